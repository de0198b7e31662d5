#!/usr/bin/env bun
/**
 * The `chat` command: `chat server`, `chat client`, `chat migrate`.
 * Run from source as `bun src/main.ts <command>`; `npm run build` makes the
 * single executable dist/chat with the same commands.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parsePoolValue, poolOptionsFromConfig, poolOptionsFromUrl, type PoolConfig } from "../pool/index.ts";
import { migrate } from "../sql/migrate.ts";
import { type Flag, intFlag, type Parsed, parseFlags, UsageError, usage } from "./cli/flags.ts";
import { createLogger, type LogLevel } from "./log.ts";
import { DEFAULTS } from "./server/server.ts";
import { redact, run } from "./server/run.ts";
import { commit, VERSION } from "./version.ts";

const MYSQL: Flag = { name: "mysql", env: "CHAT_MYSQL_URL", arg: "URL", help: "MySQL/MariaDB, mysql://user:pass@host:port/db (pool settings may go in the query)" };

const SERVER_FLAGS: Flag[] = [
  { name: "host", env: "CHAT_HOST", arg: "ADDR", help: "listen address", default: DEFAULTS.host },
  { name: "port", env: "CHAT_PORT", arg: "N", help: "chat port", default: String(DEFAULTS.port) },
  { name: "node", env: "CHAT_NODE", arg: "ID", help: "node id shown to clients in hello", default: "the hostname" },
  MYSQL,
  { name: "redis", env: "CHAT_REDIS_URL", arg: "URL", help: "Redis for a cluster, redis://host:port; single node without it" },
  { name: "admin-port", env: "CHAT_ADMIN_PORT", arg: "N", help: "HTTP /healthz and /metrics; 0 for none", default: "port+1" },
  { name: "admin-host", env: "CHAT_ADMIN_HOST", arg: "ADDR", help: "admin listen address", default: "the listen address" },
  { name: "config", env: "CHAT_CONFIG", arg: "FILE", help: "JSON file with any of these options by name; its \"mysql\" may be an object (ip, port, username, password, dbname, initSize, maxSize, maxIdleTime, connectionTimeout)" },
  { name: "pool-init-size", env: "CHAT_POOL_INIT_SIZE", arg: "N", help: "MySQL connections kept open", default: "2" },
  { name: "pool-max-size", env: "CHAT_POOL_MAX_SIZE", arg: "N", help: "most MySQL connections", default: "10" },
  { name: "pool-max-idle-time", env: "CHAT_POOL_MAX_IDLE_TIME", arg: "DUR", help: "idle time before a connection above init size closes (60 = 60 s, or 500ms/60s/5m)", default: "60s" },
  { name: "pool-connection-timeout", env: "CHAT_POOL_CONNECTION_TIMEOUT", arg: "DUR", help: "how long a request waits for a MySQL connection (ms, or with unit)", default: "5000ms" },
  { name: "mysql-timeout", env: "CHAT_MYSQL_TIMEOUT", arg: "DUR", help: "a MySQL statement unanswered this long fails as unavailable and its connection closes (ms, or with unit)", default: "5000ms" },
  { name: "tls-cert", env: "CHAT_TLS_CERT", arg: "FILE", help: "PEM certificate: serve TLS instead of plain TCP" },
  { name: "tls-key", env: "CHAT_TLS_KEY", arg: "FILE", help: "PEM private key for --tls-cert" },
  { name: "max-frame", env: "CHAT_MAX_FRAME", arg: "BYTES", help: "longest frame", default: String(DEFAULTS.maxFrame) },
  { name: "max-output", env: "CHAT_MAX_OUTPUT", arg: "BYTES", help: "unsent output before a connection is closed", default: String(DEFAULTS.maxOutput) },
  { name: "idle-timeout", env: "CHAT_IDLE_TIMEOUT", arg: "S", help: "close connections silent this long", default: String(DEFAULTS.idleTimeoutMs / 1000) },
  { name: "rate-limit", env: "CHAT_RATE_LIMIT", arg: "N", help: "requests per second per connection; 0 = off", default: String(DEFAULTS.rateLimit) },
  { name: "rate-burst", env: "CHAT_RATE_BURST", arg: "N", help: "burst above the rate", default: String(DEFAULTS.rateBurst) },
  { name: "order-window", env: "CHAT_ORDER_WINDOW", arg: "MS", help: "cluster: longest wait of a push in a conversation fed by several nodes, to go out in mid order; 0 = no wait", default: String(DEFAULTS.orderWindowMs) },
  { name: "max-conns-per-ip", env: "CHAT_MAX_CONNS_PER_IP", arg: "N", help: "connections per remote address; 0 = no limit", default: "0" },
  { name: "token-ttl", env: "CHAT_TOKEN_TTL", arg: "S", help: "login token lifetime in seconds", default: String(DEFAULTS.tokenTtlMs / 1000) },
  { name: "hash-memory", env: "CHAT_HASH_MEMORY", arg: "KIB", help: "argon2id memory cost", default: String(DEFAULTS.hash.memoryCost) },
  { name: "hash-time", env: "CHAT_HASH_TIME", arg: "N", help: "argon2id passes", default: String(DEFAULTS.hash.timeCost) },
  { name: "log-level", env: "CHAT_LOG_LEVEL", arg: "LEVEL", help: "debug, info, warn or error", default: "info" },
];

const MIGRATE_FLAGS: Flag[] = [MYSQL];

const CLIENT_FLAGS: Flag[] = [
  { name: "host", env: "CHAT_CLIENT_HOST", arg: "ADDR", help: "server address", default: "127.0.0.1" },
  { name: "port", env: "CHAT_CLIENT_PORT", arg: "N", help: "server port", default: "6000" },
  { name: "tls", boolean: true, help: "connect with TLS" },
  { name: "ca", arg: "FILE", help: "PEM CA certificate to trust (a self-signed server's certificate)" },
];

const COMMANDS = {
  server: { flags: SERVER_FLAGS, summary: "Runs a chat node. Stops cleanly on SIGTERM or SIGINT." },
  client: { flags: CLIENT_FLAGS, summary: "The console client: log in or register, then chat. Reads commands line by line when stdin is not a terminal." },
  migrate: { flags: MIGRATE_FLAGS, summary: "Creates or updates the database schema, then exits." },
} as const;

const TOP_USAGE = `usage: chat <command> [options]

commands:
  server    run a chat node
  client    the console client
  migrate   create or update the database schema

chat <command> --help shows a command's options; chat --version prints the version.
`;

/** Runs `fn`, turning its TypeError (a bad option value) into a usage error. */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof TypeError ? new UsageError(e.message) : e;
  }
}

function readConfig(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`--config ${path}: ${(e as Error).message}`);
  }
}

/** Fills flags not given on the command line or in the environment from the config file. */
function withConfig(values: Parsed): { values: Parsed; mysql?: PoolConfig } {
  if (typeof values.config !== "string") return { values };
  const config = readConfig(values.config);
  const out: Parsed = { ...values };
  let mysql: PoolConfig | undefined;
  for (const [key, v] of Object.entries(config)) {
    if (key === "mysql" && typeof v === "object" && v !== null) mysql = v as PoolConfig;
    else if (!SERVER_FLAGS.some((f) => f.name === key)) throw new UsageError(`--config: unknown option "${key}"`);
    else if (out[key] === undefined) out[key] = String(v);
  }
  return { values: out, mysql };
}

async function serverCommand(raw: Parsed) {
  const { values: v, mysql } = withConfig(raw);
  const level = (v["log-level"] as string | undefined) ?? "info";
  if (!["debug", "info", "warn", "error"].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error`);
  const log = createLogger(level as LogLevel);
  let pool;
  if (typeof v.mysql === "string") pool = asUsage(() => poolOptionsFromUrl(v.mysql as string));
  else if (mysql) pool = asUsage(() => poolOptionsFromConfig(mysql));
  else throw new UsageError("--mysql (or CHAT_MYSQL_URL, or \"mysql\" in --config) is required");
  const flagPool = asUsage(() => poolOptionsFromConfig({
    initSize: v["pool-init-size"] as string | undefined,
    maxSize: v["pool-max-size"] as string | undefined,
    maxIdleTime: v["pool-max-idle-time"] as string | undefined,
    connectionTimeout: v["pool-connection-timeout"] as string | undefined,
  }));
  pool = { ...pool, ...flagPool };
  const mysqlUrl = pool.uri ?? mysqlUrlOf(pool);
  const port = intFlag(v, "port", DEFAULTS.port, 0, 65535);
  const host = (v.host as string | undefined) ?? DEFAULTS.host;
  const certFile = v["tls-cert"] as string | undefined;
  const keyFile = v["tls-key"] as string | undefined;
  if (!!certFile !== !!keyFile) throw new UsageError("--tls-cert and --tls-key go together");
  const running = await run(
    {
      host,
      port,
      node: (v.node as string | undefined) ?? hostname(),
      mysqlUrl,
      pool,
      statementTimeoutMs: typeof v["mysql-timeout"] === "string" ? asUsage(() => parsePoolValue("connectionTimeout", v["mysql-timeout"] as string)) : undefined,
      redisUrl: v.redis as string | undefined,
      adminPort: intFlag(v, "admin-port", port === 0 ? 0 : port + 1, 0, 65535),
      adminHost: (v["admin-host"] as string | undefined) ?? host,
      maxFrame: intFlag(v, "max-frame", DEFAULTS.maxFrame, 64),
      maxOutput: intFlag(v, "max-output", DEFAULTS.maxOutput, 1024),
      idleTimeoutMs: intFlag(v, "idle-timeout", DEFAULTS.idleTimeoutMs / 1000, 1) * 1000,
      rateLimit: intFlag(v, "rate-limit", DEFAULTS.rateLimit),
      rateBurst: intFlag(v, "rate-burst", DEFAULTS.rateBurst, 1),
      maxConnsPerAddress: intFlag(v, "max-conns-per-ip", 0),
      orderWindowMs: intFlag(v, "order-window", DEFAULTS.orderWindowMs),
      tokenTtlMs: intFlag(v, "token-ttl", DEFAULTS.tokenTtlMs / 1000, 1) * 1000,
      hash: { memoryCost: intFlag(v, "hash-memory", DEFAULTS.hash.memoryCost, 8), timeCost: intFlag(v, "hash-time", DEFAULTS.hash.timeCost, 1) },
      tls: certFile && keyFile ? { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") } : undefined,
    },
    log,
    // Loaded only when needed: the Redis client is large, and a single node does without it.
    async (...args) => (await import("./cluster/redis.ts")).createRedisCluster(...args),
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

function mysqlUrlOf(o: { host?: string; port?: number; user?: string; password?: string; database?: string }): string {
  const u = new URL("mysql://localhost");
  u.hostname = o.host ?? "localhost";
  u.port = String(o.port ?? 3306);
  u.username = encodeURIComponent(o.user ?? "root");
  u.password = encodeURIComponent(o.password ?? "");
  u.pathname = `/${o.database ?? "chat"}`;
  return u.toString();
}

async function migrateCommand(v: Parsed) {
  if (typeof v.mysql !== "string") throw new UsageError("--mysql (or CHAT_MYSQL_URL) is required");
  const { uri } = asUsage(() => poolOptionsFromUrl(v.mysql as string));
  const r = await migrate(uri);
  console.log(r.applied.length ? `applied ${r.applied.join(", ")} to ${redact(uri)}` : `${redact(uri)} is up to date (schema version ${r.current})`);
}

async function clientCommand(v: Parsed) {
  const { runConsole } = await import("./client/console.ts");
  const code = await runConsole({
    host: (v.host as string | undefined) ?? "127.0.0.1",
    port: intFlag(v, "port", 6000, 1, 65535),
    tls: v.tls === true,
    ca: typeof v.ca === "string" ? readFileSync(v.ca, "utf8") : undefined,
  });
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === "--version" || cmd === "-v" || cmd === "version") return void console.log(`chat ${VERSION} (${commit()})`);
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") return void process.stdout.write(TOP_USAGE);
  if (!Object.hasOwn(COMMANDS, cmd)) {
    process.stderr.write(`chat: unknown command "${cmd}"\n\n${TOP_USAGE}`);
    process.exit(2);
  }
  const spec = COMMANDS[cmd as keyof typeof COMMANDS];
  const text = usage(`chat ${cmd} [options]`, spec.summary, spec.flags);
  try {
    const values = parseFlags(spec.flags, rest);
    if (values.help) return void process.stdout.write(text);
    if (cmd === "server") await serverCommand(values);
    else if (cmd === "migrate") await migrateCommand(values);
    else await clientCommand(values);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`chat ${cmd}: ${e.message}\n\n${text}`);
      process.exit(2);
    }
    process.stderr.write(`chat ${cmd}: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
