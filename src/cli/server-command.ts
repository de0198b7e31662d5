/**
 * `chat server`: its option table, and the run from parsed options to a
 * listening node that stops cleanly on SIGTERM or SIGINT. The table's keys
 * are the server's own option names, so the values go to `run` as they are;
 * only the database, TLS, argon2 and pool settings are put into shape.
 */
import { hostname } from "node:os";
import type { SentinelTarget } from "../cluster/redis-sentinel.ts";
import { POOL_DEFAULTS, type PoolOptions } from "../../pool/index.ts";
import { createLogger, LOG_FORMATS } from "../log.ts";
import { run } from "../server/run.ts";
import { DEFAULTS } from "../server/server.ts";
import type { Site } from "../server/web-listener.ts";
import { DEFAULT_STATEMENT_TIMEOUT } from "../store/server-pool.ts";
import { MYSQL_OPTIONS, mysqlUrlOf, withPassword } from "./mysql.ts";
import { derived, given, type Parsed, type Table, UsageError } from "./options.ts";
import { duration, file, hostPortList, int, oneOf, origins, pemFile, secretFile, text, toggle, url } from "./value-types.ts";

/**
 * The admin HTTP endpoint answers /healthz and /metrics without
 * authentication: by default only this machine reaches it, whatever address
 * the chat port listens on. Open it on purpose (`--admin-host 0.0.0.0`) for a
 * Prometheus elsewhere.
 */
export const DEFAULT_ADMIN_HOST = "127.0.0.1";

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** Longest timer delay accepted: under 2^31 ms (24.8 days), beyond which Node and Bun fire after 1 ms. */
const MAX_TIMER = 24 * 86_400_000;

export const SERVER_OPTIONS = {
  host: { type: text("ADDR"), env: "CHAT_HOST", help: "listen address", default: DEFAULTS.host },
  port: { type: int(0, 65535), env: "CHAT_PORT", help: "chat port; 0 picks a free one", default: DEFAULTS.port },
  node: { type: text("ID"), env: "CHAT_NODE", help: "node id shown to clients in hello, unique in the cluster", default: derived("the hostname", () => hostname()) },
  ...MYSQL_OPTIONS,
  redisUrl: { flag: "redis", type: url(["redis:", "rediss:"], "redis://host:6379"), env: "CHAT_REDIS_URL", help: "Redis for a cluster, redis://host:port; a single node without it" },
  /**
   * Redis Sentinel instead of --redis: the sentinels to ask where the
   * primary is. The node follows a failover by itself (what other nodes
   * publish during the switch is not pushed live; it stays pending).
   */
  redisSentinels: {
    type: hostPortList("10.0.0.21:26379,10.0.0.22:26379,10.0.0.23:26379"),
    env: "CHAT_REDIS_SENTINELS",
    help: "Redis Sentinel for a cluster instead of --redis: sentinels as host:port,host:port,... (one that answers is enough)",
  },
  /** The name the sentinels monitor the primary under (`sentinel monitor NAME ...`). Default "chat". */
  redisMaster: { type: text("NAME"), env: "CHAT_REDIS_MASTER", help: "with --redis-sentinels: the primary's name in sentinel.conf (sentinel monitor NAME ...)", default: "chat" },
  /** The password of the Redis primary and replicas (their requirepass), kept out of the URL and the environment. */
  redisPasswordFile: {
    type: secretFile,
    env: "CHAT_REDIS_PASSWORD_FILE",
    help: "file holding the Redis password (requirepass): with --redis-sentinels, the primary's and replicas'; with --redis, in place of the URL's",
  },
  adminPort: {
    type: int(0, 65535),
    env: "CHAT_ADMIN_PORT",
    help: "HTTP /healthz and /metrics; 0 for none",
    default: derived("the chat port + 1", (v) => {
      const port = v.port as number;
      if (port === 65535) throw new TypeError("is needed with --port 65535: its default, the chat port + 1, would be 65536 (0 turns it off)");
      return port === 0 ? 0 : port + 1;
    }),
  },
  webPort: {
    type: int(0, 65535),
    env: "CHAT_WEB_PORT",
    help: "the web client at / and the WebSocket transport at /ws (TLS with --tls-cert); a free port when the chat port is 0; 0 for none",
    default: derived("the chat port + 80", (v) => {
      const port = v.port as number;
      if (port > 65535 - 80) throw new TypeError(`is needed with --port ${port}: its default, the chat port + 80, would be past 65535 (0 turns it off)`);
      return port === 0 ? undefined : port + 80;
    }),
  },
  webHost: { type: text("ADDR"), env: "CHAT_WEB_HOST", help: "web listen address", default: derived("--host", (v) => v.host as string) },
  webOrigins: {
    flag: "web-origin",
    type: origins,
    env: "CHAT_WEB_ORIGIN",
    help: "origins besides the web port's own whose pages may connect to /ws, comma-separated (https://chat.example.com)",
    default: [] as string[],
  },
  adminHost: { type: text("ADDR"), env: "CHAT_ADMIN_HOST", help: "admin listen address; it has no authentication, so open it with care", default: DEFAULT_ADMIN_HOST },
  config: {
    type: file,
    env: "CHAT_CONFIG",
    help: 'JSON file with any of these options by name (e.g. {"port": 6000}); its "mysql" may be an object (ip, port, username, password, dbname, initSize, maxSize, maxIdleTime, connectionTimeout; ip may be a list of hosts) or a list of such objects, one per host',
  },
  initSize: { flag: "pool-init-size", type: int(0), env: "CHAT_POOL_INIT_SIZE", help: "MySQL connections kept open", default: POOL_DEFAULTS.initSize },
  maxSize: { flag: "pool-max-size", type: int(1), env: "CHAT_POOL_MAX_SIZE", help: "most MySQL connections", default: POOL_DEFAULTS.maxSize },
  maxIdleTime: { flag: "pool-max-idle-time", type: duration("s"), env: "CHAT_POOL_MAX_IDLE_TIME", help: "idle time before a connection above the init size closes; 0 never", default: POOL_DEFAULTS.maxIdleTime },
  connectionTimeout: { flag: "pool-connection-timeout", type: duration("ms", 1, MAX_TIMER), env: "CHAT_POOL_CONNECTION_TIMEOUT", help: "how long a request waits for a MySQL connection", default: POOL_DEFAULTS.connectionTimeout },
  failback: {
    flag: "mysql-failback",
    type: toggle,
    env: "CHAT_MYSQL_FAILBACK",
    help: "with several hosts in --mysql: move writes back to an earlier host of the list once it is ready again (off: after a failover they stay where they went until the node restarts)",
    default: POOL_DEFAULTS.failback,
  },
  statementTimeoutMs: { flag: "mysql-timeout", type: duration("ms", 0, MAX_TIMER), env: "CHAT_MYSQL_TIMEOUT", help: "a MySQL statement unanswered this long fails as unavailable and its connection closes; 0 never", default: DEFAULT_STATEMENT_TIMEOUT },
  tlsCert: { type: pemFile, env: "CHAT_TLS_CERT", help: "PEM certificate: serve TLS instead of plain TCP" },
  tlsKey: { type: pemFile, env: "CHAT_TLS_KEY", help: "PEM private key for --tls-cert" },
  maxFrame: { type: int(64, 2 ** 31 - 1, "BYTES"), env: "CHAT_MAX_FRAME", help: "longest frame", default: DEFAULTS.maxFrame },
  maxOutput: { type: int(1024, Number.MAX_SAFE_INTEGER, "BYTES"), env: "CHAT_MAX_OUTPUT", help: "unsent output before a connection is closed", default: DEFAULTS.maxOutput },
  idleTimeoutMs: { flag: "idle-timeout", type: duration("s", 1000, MAX_TIMER), env: "CHAT_IDLE_TIMEOUT", help: "close connections silent this long", default: DEFAULTS.idleTimeoutMs },
  rateLimit: { type: int(0), env: "CHAT_RATE_LIMIT", help: "requests per second per connection; 0 = off", default: DEFAULTS.rateLimit },
  rateBurst: { type: int(1), env: "CHAT_RATE_BURST", help: "burst above the rate", default: DEFAULTS.rateBurst },
  orderWindowMs: {
    flag: "order-window",
    type: duration("ms", 0, MAX_TIMER),
    env: "CHAT_ORDER_WINDOW",
    help: "cluster: longest wait of a push in a conversation fed by several nodes, to go out in mid order; 0 = no wait",
    default: DEFAULTS.orderWindowMs,
  },
  maxConnsPerAddress: { flag: "max-conns-per-ip", type: int(0), env: "CHAT_MAX_CONNS_PER_IP", help: "connections per remote address; 0 = no limit", default: DEFAULTS.maxConnsPerAddress },
  friendPolicy: { type: oneOf(["open", "consent"] as const, "POLICY"), env: "CHAT_FRIEND_POLICY", help: "open: add_friend befriends at once (version 1); consent: it asks, and the other user accepts", default: DEFAULTS.friendPolicy },
  requestRatePerMinute: { flag: "request-rate", type: int(0), env: "CHAT_REQUEST_RATE", help: "friend requests per user per minute (add_friend too under consent); 0 for no limit", default: DEFAULTS.requestRatePerMinute },
  editWindowMs: { flag: "edit-window", type: duration("s"), env: "CHAT_EDIT_WINDOW", help: "how long after sending a sender may edit or delete a message; 0 for no bound (a group's creator and admins are never bound)", default: DEFAULTS.editWindowMs },
  banCheckIntervalMs: {
    flag: "ban-check",
    type: duration("s", 0, MAX_TIMER),
    env: "CHAT_BAN_CHECK",
    help: "how often the node ends sessions of users banned lately (chat admin ban) that Redis did not reach; 0 never",
    default: DEFAULTS.banCheckIntervalMs,
  },
  loginAccountFailures: {
    type: int(0),
    env: "CHAT_LOGIN_ACCOUNT_FAILURES",
    help: "failed password logins of one account within --login-window after which its logins must wait (rate_limited meanwhile); 0 = off",
    default: DEFAULTS.loginAccountFailures,
  },
  loginAddressFailures: {
    flag: "login-ip-failures",
    type: int(0),
    env: "CHAT_LOGIN_IP_FAILURES",
    help: "the same for failures from one remote address (behind a proxy, the proxy's); 0 = off",
    default: DEFAULTS.loginAddressFailures,
  },
  loginWindowMs: { flag: "login-window", type: duration("s", 1000, MAX_TIMER), env: "CHAT_LOGIN_WINDOW", help: "the window of those counts", default: DEFAULTS.loginWindowMs },
  loginDelayMs: { flag: "login-delay", type: duration("ms", 1, MAX_TIMER), env: "CHAT_LOGIN_DELAY", help: "the first wait; it doubles with each further failure", default: DEFAULTS.loginDelayMs },
  loginMaxDelayMs: { flag: "login-max-delay", type: duration("s", 1, MAX_TIMER), env: "CHAT_LOGIN_MAX_DELAY", help: "the longest wait", default: DEFAULTS.loginMaxDelayMs },
  tokenTtlMs: { flag: "token-ttl", type: duration("s", 1000), env: "CHAT_TOKEN_TTL", help: "login token lifetime", default: DEFAULTS.tokenTtlMs },
  hashMemory: { type: int(8, 4 * 1024 * 1024, "KIB"), env: "CHAT_HASH_MEMORY", help: "argon2id memory cost", default: DEFAULTS.hash.memoryCost },
  hashTime: { type: int(1, 100), env: "CHAT_HASH_TIME", help: "argon2id passes", default: DEFAULTS.hash.timeCost },
  logLevel: { type: oneOf(LOG_LEVELS, "LEVEL"), env: "CHAT_LOG_LEVEL", help: "debug, info, warn or error", default: "info" },
  logFormat: { type: oneOf(LOG_FORMATS, "FORMAT"), env: "CHAT_LOG_FORMAT", help: "text (one key=value line per event) or json (one object per line, for log shippers)", default: "text" },
} satisfies Table;

export const SERVER_SUMMARY = "Runs a chat node. Stops cleanly on SIGTERM or SIGINT.";

const POOL_KEYS = ["initSize", "maxSize", "maxIdleTime", "connectionTimeout", "failback"] as const;

/** What the command is handed besides its options: the web port's pages, from the layer above (src/main.ts). */
export interface ServerCommandDeps {
  /** Answers the web port's requests other than /ws: the web client. */
  site?: Site;
}

/**
 * Where the node finds Redis: `--redis` (with the password file's password
 * in place of the URL's), or the sentinels of `--redis-sentinels`; neither
 * for a single node. Both at once, or `--redis-master` without sentinels, is
 * a usage error.
 */
export function redisOf(parsed: Parsed<typeof SERVER_OPTIONS>): { redisUrl?: string; redisSentinel?: SentinelTarget } {
  const { redisUrl, redisSentinels, redisMaster, redisPasswordFile: password } = parsed.values;
  if (redisSentinels && redisUrl !== undefined) throw new UsageError("--redis and --redis-sentinels both name Redis: give one of them");
  if (!redisSentinels && given(parsed, "redisMaster")) throw new UsageError("--redis-master goes with --redis-sentinels");
  if (redisSentinels) return { redisSentinel: { sentinels: redisSentinels, master: redisMaster, password } };
  if (redisUrl === undefined || password === undefined) return { redisUrl };
  const u = new URL(redisUrl);
  u.password = encodeURIComponent(password);
  return { redisUrl: u.toString() };
}

export async function serverCommand(parsed: Parsed<typeof SERVER_OPTIONS>, deps: ServerCommandDeps = {}): Promise<void> {
  // What is left after taking out the options that need shaping is the server's own options, by their own names.
  const { mysql, mysqlPasswordFile, tlsCert, tlsKey, hashMemory, hashTime, logLevel, logFormat, config, initSize, maxSize, maxIdleTime, connectionTimeout, failback, ...rest } =
    parsed.values;
  const { redisSentinels, redisMaster, redisPasswordFile, redisUrl, ...server } = rest;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (server.loginMaxDelayMs < server.loginDelayMs) throw new UsageError("--login-max-delay must be at least --login-delay");
  // Pool flags override what the URL query or the config object say, but only when given.
  const pool: PoolOptions = withPassword({ ...mysql }, mysqlPasswordFile);
  for (const key of POOL_KEYS) if (given(parsed, key)) (pool as Record<string, unknown>)[key] = parsed.values[key];
  const log = createLogger(logLevel, { format: logFormat });
  const running = await run(
    {
      ...server,
      ...redisOf(parsed),
      mysqlUrl: mysqlUrlOf(pool),
      pool,
      hash: { memoryCost: hashMemory, timeCost: hashTime },
      tls: tlsCert !== undefined && tlsKey !== undefined ? { cert: tlsCert, key: tlsKey } : undefined,
      site: deps.site,
    },
    log,
    // Loaded only when needed: the Redis client is large, and a single node does without it.
    async (...args) => (await import("../cluster/redis.ts")).createRedisCluster(...args),
  );
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) {
      log.warn("forced_exit", { signal: sig });
      process.exit(1);
    }
    log.info("signal", { signal: sig });
    running.stop().then(
      () => process.exit(0),
      (e) => {
        log.error("shutdown_failed", { error: e });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
}
