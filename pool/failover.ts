/**
 * What the pool decides when it has a list of hosts: whether a host is ready
 * to take writes, in which order the hosts are tried, and how long a
 * failover waits before it starts.
 */
import type { Connection, ConnectionOptions } from "mysql2/promise";

/** One host of the list: its name for messages and the connection options that reach it. */
export interface HostTarget {
  /** "host:port". */
  label: string;
  connection: ConnectionOptions;
}

/**
 * The Galera state that decides readiness, in one round trip. `wsrep_on`
 * tells a cluster member from a plain MariaDB (which reports wsrep_ready OFF
 * as well, having no cluster to be ready for).
 */
export const READINESS_SQL =
  "SELECT VARIABLE_NAME AS k, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'WSREP_ON' " +
  "UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_READY', 'WSREP_LOCAL_STATE_COMMENT')";

/**
 * Why the host that answered READINESS_SQL with `rows` must not take
 * writes, or undefined when it may: a plain MariaDB (no wsrep) always may; a
 * Galera node only when `wsrep_ready` is ON and it is Synced (not Joining,
 * Donor/Desynced, or out of the primary component).
 */
export function notReady(rows: { k: string; v: string }[]): string | undefined {
  const v = new Map(rows.map((r) => [String(r.k).toUpperCase(), String(r.v)]));
  if ((v.get("WSREP_ON") ?? "OFF").toUpperCase() !== "ON") return undefined;
  const ready = v.get("WSREP_READY") ?? "?";
  const state = v.get("WSREP_LOCAL_STATE_COMMENT") ?? "?";
  if (ready.toUpperCase() === "ON" && state === "Synced") return undefined;
  return `not ready: wsrep_ready=${ready}, wsrep_local_state_comment=${state}`;
}

/** Asks a freshly opened connection whether its host is ready; resolves to the reason it is not, or undefined. */
export async function checkReady(conn: Connection): Promise<string | undefined> {
  const [rows] = await conn.query(READINESS_SQL);
  return notReady(rows as { k: string; v: string }[]);
}

/**
 * The hosts to try, in list order starting after `current` and wrapping
 * around. After a lost connection the current host comes first (one dead
 * connection, a KILL say, does not mean its host is gone); after a failed
 * connect to it, last.
 */
export function probeOrder(count: number, current: number, currentFirst: boolean): number[] {
  const others = Array.from({ length: count - 1 }, (_, k) => (current + 1 + k) % count);
  return currentFirst ? [current, ...others] : [...others, current];
}

/** A failed attempt as HostsUnavailableError lists it: the message (with its code when the message lacks it), and the code. */
export function describeFailure(err: unknown): { reason: string; errorCode?: string } {
  const e = err as { message?: unknown; code?: unknown } | undefined;
  const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(err);
  const code = typeof e?.code === "string" ? e.code : undefined;
  return { reason: code !== undefined && !message.includes(code) ? `${message} (${code})` : message, ...(code ? { errorCode: code } : {}) };
}

/** A failover's random head start, 0 to `jitter` ms: chat nodes that lost the same host do not all reach the next in the same instant. */
export function failoverDelay(jitter: number, random: () => number = Math.random): number {
  return jitter * random();
}
