/**
 * One connection to the first host of a list that answers and is ready, for
 * what works outside the pool on a single connection (the migrator): the
 * same choice the pool's failover makes, tried once.
 */
import { type Connection, type ConnectionOptions, createConnection } from "mysql2/promise";
import { type HostAttempt, HostsUnavailableError } from "./errors.ts";
import { checkReady, describeFailure } from "./failover.ts";
import { resolvePoolOptions } from "./options.ts";

/**
 * Connects with `options` (a `uri` that may name a host list, or `hosts`).
 * With one host it is a plain connect, its error the driver's; with several,
 * the first that answers and is ready (Galera: Synced) wins, and when none
 * does the HostsUnavailableError names each one and why.
 */
export async function connectFirstReady(options: ConnectionOptions & { hosts?: string[] }): Promise<Connection> {
  const { targets } = resolvePoolOptions(options);
  if (targets.length === 1) return createConnection({ ...targets[0]!.connection });
  const tried: HostAttempt[] = [];
  for (const t of targets) {
    let conn: Connection | undefined;
    try {
      conn = await createConnection({ ...t.connection });
      const reason = await checkReady(conn);
      if (reason === undefined) return conn;
      tried.push({ host: t.label, reason });
    } catch (err) {
      tried.push({ host: t.label, ...describeFailure(err) });
    }
    conn?.destroy();
  }
  throw new HostsUnavailableError(tried);
}
