/**
 * `chat server`: wires the parts from the command line and runs until
 * SIGTERM/SIGINT. MySQL through our pool, migrations applied at start, Redis
 * bus and presence when a Redis URL is given (in-process otherwise), the admin
 * HTTP endpoint beside the chat port.
 */
import { type HostsUnavailableError, joinHostListUrl, type Pool, type PoolOptions, splitHostListUrl } from "../../pool/index.ts";
import { createServerPool, createWriterPool } from "../store/server-pool.ts";
import { migrate } from "../../sql/migrate.ts";
import { type Bus, createLocalBus } from "../cluster/bus.ts";
import type { PresenceFactory } from "../cluster/presence.ts";
import type { RedisTarget, SentinelTarget } from "../cluster/redis.ts";
import type { Logger } from "../log.ts";
import { isPassingCode } from "../store/passing-failures.ts";
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
  /** The primary that these sentinels name, instead of `redisUrl`. */
  redisSentinel?: SentinelTarget;
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
  target: RedisTarget,
  node: string,
  log: Logger,
  onPublishDropped: () => void,
) => Promise<{ bus: Bus; presence: PresenceFactory }>;

/**
 * The code that decides whether to wait: a host list where every host failed
 * alike (all refuse the password, say) is that failure; one where some host
 * was merely unreachable or not ready is worth waiting for.
 */
function failureCode(e: unknown): string {
  const err = e as { code?: string; tried?: HostsUnavailableError["tried"] } | undefined;
  if (err?.code !== "hosts_unavailable" || !err.tried) return err?.code ?? "";
  const codes = new Set(err.tried.map((t) => t.errorCode ?? "not_ready"));
  const only = codes.size === 1 ? [...codes][0]! : undefined;
  return only !== undefined && only !== "not_ready" && !isPassingCode(only) ? only : "hosts_unavailable";
}

/** What the operator must fix, for the configuration errors MySQL names. */
const ADVICE: Record<string, string> = {
  ER_ACCESS_DENIED_ERROR: "check the user and password in --mysql (or --mysql-password-file)",
  ER_ACCESS_DENIED_NO_PASSWORD_ERROR: "the user needs a password: add it to --mysql (or --mysql-password-file)",
  ER_DBACCESS_DENIED_ERROR: "grant the user access to the database (deploy/README.md, step 2, shows the GRANT)",
  ER_TABLEACCESS_DENIED_ERROR: "grant the user the privileges deploy/README.md lists (step 2)",
  ER_BAD_DB_ERROR: "create the database first, or fix its name in --mysql",
  ER_HOST_NOT_PRIVILEGED: "MySQL does not accept this user from this host: grant it for this host",
  ENOTFOUND: "the host name in --mysql does not resolve",
};

/** A misconfiguration found at start: the process says so in one line and exits. */
export class StartupError extends Error {
  readonly code = "startup_failed";
}

/** Runs `attempt` until it succeeds, waiting while the database is not reachable; a configuration error ends the wait. */
async function untilUp<T>(what: string, log: Logger, attempt: () => Promise<T>): Promise<T> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await attempt();
    } catch (e) {
      const code = failureCode(e);
      if (!isPassingCode(code)) {
        const advice = ADVICE[code];
        throw new StartupError(`${what}: ${(e as Error)?.message ?? e}${code ? ` (${code})` : ""}${advice ? `; ${advice}` : ""}`);
      }
      log.warn(`${what}_unavailable`, { error: e, retry_ms: delay });
      await Bun.sleep(delay);
    }
  }
}

export async function run(o: RunOptions, log: Logger, cluster?: ClusterFactory): Promise<Running> {
  const metrics = new Metrics();
  const redis: RedisTarget | undefined = o.redisSentinel ?? o.redisUrl;
  log.info("start", { node: o.node, mysql: redact(o.mysqlUrl), redis: describeRedis(redis) });
  // A failover is worth a line: which host the writes left, for which one.
  const pool = createServerPool({ ...o.pool, onFailover: (e) => log.warn(`mysql_${e.kind}`, { from: e.from, to: e.to }) }, o.statementTimeoutMs);
  const writerPool = createWriterPool({ ...o.pool, onFailover: (e) => log.warn(`mysql_writer_${e.kind}`, { from: e.from, to: e.to }) }, o.statementTimeoutMs);
  metrics.watch({ pool: () => pool.stats(), writerPool: () => writerPool.stats() });
  let server: ChatServer | undefined;
  let bus: Bus = createLocalBus();
  // The admin endpoint first: /healthz answers 503 while the database is not reachable yet.
  const admin =
    o.adminPort > 0
      ? listenAdmin(o.adminHost, o.adminPort, {
          node: o.node,
          db: pool,
          busState: () => bus.state,
          metrics,
          details: () => (server ? { connections: server.connections, sessions: server.services.roster.sessionCount } : { starting: true }),
        })
      : undefined;
  if (admin) log.info("admin_listen", { host: o.adminHost, port: admin.port });
  try {
    const migrated = await untilUp("mysql", log, () => migrate(o.mysqlUrl));
    if (migrated.applied.length) log.info("migrated", { applied: migrated.applied.join(",") });
    const consecutiveIds = await consecutiveInsertIds(pool);
    if (!consecutiveIds) log.warn("autoinc_interleaved", { hint: "innodb_autoinc_lock_mode=2 or auto_increment_increment>1: messages are inserted one row at a time" });

    let presence: PresenceFactory | undefined;
    if (redis) {
      if (!cluster) throw new TypeError("a Redis URL needs the cluster factory");
      ({ bus, presence } = await cluster(redis, o.node, log, metrics.publishDropped));
    }
    server = await startServer(o, { db: pool, writerDb: writerPool, bus, log, metrics, presence, consecutiveIds });
  } catch (e) {
    admin?.stop(true);
    await bus.close();
    await Promise.all([pool.close(), writerPool.close()]);
    throw e;
  }
  const started = server;
  log.info("ready", { node: o.node, port: started.port, web: started.webPort });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info("shutdown", { node: o.node });
      await started.stop();
      admin?.stop(true);
      await bus.close();
      await Promise.all([pool.close(), writerPool.close()]);
    })());
  return { server: started, pool, adminPort: admin?.port, stop };
}

/** The admin endpoint, or a StartupError that names its port. */
function listenAdmin(host: string, port: number, deps: Parameters<typeof startAdmin>[2]) {
  try {
    return startAdmin(host, port, deps);
  } catch (e) {
    const code = (e as { code?: string })?.code;
    throw new StartupError(
      code === "EADDRINUSE"
        ? `admin port ${port} is already in use (EADDRINUSE); choose another with --admin-port (0 for none)`
        : `cannot listen on ${host}:${port} for the admin endpoint: ${(e as Error)?.message ?? e}`,
    );
  }
}

/** Where Redis is, for the start line: a URL without its password, or the sentinels and the primary's name. */
function describeRedis(r: RedisTarget | undefined): string {
  if (r === undefined) return "none";
  if (typeof r === "string") return redact(r);
  return `sentinels ${r.sentinels.map((s) => `${s.host}:${s.port}`).join(",")} primary "${r.master}"`;
}

/** A URL without its password, for logs (a host list URL too). */
export function redact(url: string): string {
  try {
    const { hosts, urls } = splitHostListUrl(url);
    const u = new URL(urls[0] ?? url);
    if (u.password) u.password = "***";
    return hosts.length > 1 ? joinHostListUrl(u.toString(), hosts) : u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
