/**
 * `chat server`: wires the parts from the command line and runs until
 * SIGTERM/SIGINT. MySQL through our pool, migrations applied at start, Redis
 * bus and presence when a Redis URL is given (in-process otherwise), the admin
 * HTTP endpoint beside the chat port.
 */
import type { Pool, PoolOptions } from "../../pool/index.ts";
import { createServerPool } from "../store/server-pool.ts";
import { migrate } from "../../sql/migrate.ts";
import { type Bus, createLocalBus } from "../cluster/bus.ts";
import type { PresenceFactory } from "../cluster/presence.ts";
import type { Logger } from "../log.ts";
import { consecutiveInsertIds } from "../store/server-info.ts";
import { startAdmin } from "./admin.ts";
import { Metrics } from "./metrics.ts";
import { type ChatServer, type ServerOptions, startServer } from "./server.ts";

export interface RunOptions extends ServerOptions {
  /** mysql://user:pass@host:port/db, pool settings allowed in the query. */
  mysqlUrl: string;
  pool: PoolOptions;
  /** A MySQL statement not answered within this many ms fails as unavailable. */
  statementTimeoutMs?: number;
  /** redis://host:port; single node with an in-process bus when absent. */
  redisUrl?: string;
  /** Admin HTTP port; 0 for none. */
  adminPort: number;
  adminHost: string;
}

export interface Running {
  server: ChatServer;
  pool: Pool;
  adminPort?: number;
  stop(): Promise<void>;
}

/** The cluster over Redis, when configured (src/cluster/redis.ts). */
export type ClusterFactory = (
  url: string,
  node: string,
  log: Logger,
  onPublishDropped: () => void,
) => Promise<{ bus: Bus; presence: PresenceFactory }>;

async function untilUp<T>(what: string, log: Logger, attempt: () => Promise<T>, signal: { stopped: boolean }): Promise<T> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await attempt();
    } catch (e) {
      if (signal.stopped) throw e;
      log.warn(`${what}_unavailable`, { error: e, retry_ms: delay });
      await Bun.sleep(delay);
    }
  }
}

export async function run(o: RunOptions, log: Logger, cluster?: ClusterFactory): Promise<Running> {
  const metrics = new Metrics();
  const starting = { stopped: false };
  log.info("start", { node: o.node, mysql: redact(o.mysqlUrl), redis: o.redisUrl ? redact(o.redisUrl) : "none" });
  const migrated = await untilUp("mysql", log, () => migrate(o.mysqlUrl), starting);
  if (migrated.applied.length) log.info("migrated", { applied: migrated.applied.join(",") });

  const pool = createServerPool(o.pool, o.statementTimeoutMs);
  const consecutiveIds = await consecutiveInsertIds(pool);
  if (!consecutiveIds) log.warn("autoinc_interleaved", { hint: "innodb_autoinc_lock_mode=2: messages are inserted one row at a time" });

  let bus: Bus = createLocalBus();
  let presence: PresenceFactory | undefined;
  if (o.redisUrl) {
    if (!cluster) throw new TypeError("a Redis URL needs the cluster factory");
    const dropped = () => metrics.inc("chat_bus_publish_dropped_total", "Publishes skipped while Redis was down");
    ({ bus, presence } = await cluster(o.redisUrl, o.node, log, dropped));
  }

  const server = await startServer(o, { db: pool, bus, log, metrics, presence, consecutiveIds });
  metrics.collect(() => {
    const s = pool.stats();
    for (const k of ["size", "idle", "inUse", "waiting"] as const) metrics.gauge(`chat_pool_${snake(k)}`, `Pool connections: ${k}`, s[k]);
    for (const k of ["created", "destroyed", "timeouts", "leases", "createErrors"] as const)
      metrics.gauge(`chat_pool_${snake(k)}_total`, `Pool ${k} since start`, s[k]);
    metrics.gauge("chat_pool_lease_wait_ms_total", "Sum of lease waits, ms", s.leaseWaitMsTotal);
    metrics.gauge("chat_pool_lease_wait_ms_max", "Longest lease wait, ms", s.leaseWaitMsMax);
  });
  const admin =
    o.adminPort > 0
      ? startAdmin(o.adminHost, o.adminPort, {
          node: o.node,
          db: pool,
          bus,
          metrics,
          details: () => ({ connections: server.connections, sessions: server.services.roster.sessionCount }),
        })
      : undefined;
  if (admin) log.info("admin_listen", { host: o.adminHost, port: admin.port });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info("shutdown", { node: o.node });
      await server.stop();
      admin?.stop(true);
      await bus.close();
      await pool.close();
    })());
  return { server, pool, adminPort: admin?.port, stop };
}

function snake(s: string) {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** A URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
