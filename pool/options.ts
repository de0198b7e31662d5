/**
 * Pool options: the defaults (merged once), their validation, and the two ways
 * an operator writes them down, a `mysql://` URL query and a config object.
 *
 * Units. In code (`createPool({...})`) every duration is in milliseconds. In a
 * URL query or a config object a duration may carry a unit (`500ms`, `60s`,
 * `30m`, `1h`); a bare number keeps the reference projects' units:
 * `maxIdleTime` in seconds, every other duration (`connectionTimeout` too) in
 * milliseconds. So the references' `maxIdleTime=60` still means one minute.
 */
import { createConnection, type Connection, type ConnectionOptions } from "mysql2/promise";

/** The pool's own settings; every other option key goes to mysql2's createConnection. */
export interface PoolSettings {
  /**
   * Connections opened in the background once the pool is first used, and kept
   * open: the reaper never closes below this many. Default 2.
   */
  initSize: number;
  /** Most connections open at once, counting those being opened. Default 10. */
  maxSize: number;
  /**
   * Milliseconds a connection above `initSize` may sit idle before the reaper
   * closes it; 0 never. Default 60000 (URL/config: bare number = seconds).
   */
  maxIdleTime: number;
  /** Milliseconds `lease()` waits for a connection before PoolTimeoutError. Default 5000. */
  connectionTimeout: number;
  /**
   * Milliseconds a connection lives before it is retired (on release or by the
   * reaper, never while leased), shortened per connection by a random 0-2.5% so
   * connections opened together do not all expire together; 0 never.
   * Default 1800000 (30 min).
   */
  maxLifetime: number;
  /**
   * A connection idle longer than this many milliseconds is pinged before it is
   * handed out; a failed ping closes it and the lease moves on to another.
   * 0 pings on every lease. Default 5000.
   */
  validationInterval: number;
  /** Milliseconds that validation ping may take before the connection counts as dead. Default 3000. */
  validationTimeout: number;
  /**
   * Milliseconds between reaper runs (one unref'd timer). Default the smaller
   * of 10000 and `maxIdleTime`, so a connection idle past `maxIdleTime` is
   * closed within about twice `maxIdleTime` however short it is.
   */
  reapInterval: number;
  /**
   * Opens one connection. Default mysql2/promise `createConnection`; tests
   * inject a fake. Receives a fresh copy of the connection options each time.
   */
  createConnection: (options: ConnectionOptions) => Promise<Connection>;
}

/** What `createPool` takes: mysql2 connection options (`uri` or host/port/...) plus pool settings. */
export type PoolOptions = ConnectionOptions & Partial<PoolSettings>;

/** Settings that can be written in a URL query or a config file (all but the injection point). */
export type PoolKey = Exclude<keyof PoolSettings, "createConnection">;

export const POOL_DEFAULTS = {
  initSize: 2,
  maxSize: 10,
  maxIdleTime: 60_000,
  connectionTimeout: 5_000,
  maxLifetime: 30 * 60_000,
  validationInterval: 5_000,
  validationTimeout: 3_000,
  reapInterval: 10_000,
  createConnection: (options: ConnectionOptions) => createConnection(options),
} satisfies PoolSettings;

/**
 * Connection defaults: 4-byte UTF-8 so emoji survive, whatever the server's
 * default; no per-query stack capture (`trace`), which costs mysql2's promise
 * API as much CPU as the rest of a query under Bun (see README).
 */
export const CONNECTION_DEFAULTS = { charset: "utf8mb4", trace: false } satisfies ConnectionOptions;

const POOL_KEYS = Object.keys(POOL_DEFAULTS).filter((k) => k !== "createConnection") as PoolKey[];
const SIZE_KEYS = new Set<PoolKey>(["initSize", "maxSize"]);
/** Largest delay setTimeout honours; beyond it Node and Bun fire after 1 ms. */
const MAX_TIMER = 2 ** 31 - 1;

function isPoolKey(key: string): key is PoolKey {
  return (POOL_KEYS as string[]).includes(key);
}

/** Splits options into pool settings (defaults merged, validated) and connection options. */
export function resolvePoolOptions(options: PoolOptions = {}): {
  settings: PoolSettings;
  connection: ConnectionOptions;
} {
  const { createConnection, ...rest } = options;
  const pool: Partial<PoolSettings> = {};
  const connection: Record<string, unknown> = { ...CONNECTION_DEFAULTS };
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (isPoolKey(key)) pool[key] = value as number;
    else connection[key] = value;
  }
  if (typeof connection.uri === "string") {
    // Pool keys in the URL query belong to us, not to mysql2 (which warns on unknown keys).
    const fromUrl = poolOptionsFromUrl(connection.uri);
    connection.uri = fromUrl.uri;
    for (const key of POOL_KEYS) {
      const v = fromUrl[key];
      if (v === undefined) continue;
      if (pool[key] !== undefined && pool[key] !== v)
        throw new TypeError(`${key} is ${pool[key]} in the options but ${v} in the uri`);
      pool[key] = v;
    }
  }
  const settings: PoolSettings = {
    ...POOL_DEFAULTS,
    ...pool,
    createConnection: createConnection ?? POOL_DEFAULTS.createConnection,
  };
  // The reaper must wake at least once per maxIdleTime, or a short one is not honoured:
  // with a fixed 10 s, connections idle for 500 ms would live 10 s.
  if (pool.reapInterval === undefined && settings.maxIdleTime > 0)
    settings.reapInterval = Math.min(POOL_DEFAULTS.reapInterval, settings.maxIdleTime);
  validate(settings);
  return { settings, connection: connection as ConnectionOptions };
}

function validate(s: PoolSettings): void {
  for (const key of SIZE_KEYS) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 0) throw new TypeError(`${key} must be a whole number >= 0, got ${v}`);
  }
  if (s.maxSize < 1) throw new TypeError("maxSize must be at least 1");
  if (s.initSize > s.maxSize) throw new TypeError(`initSize (${s.initSize}) is larger than maxSize (${s.maxSize})`);
  for (const key of POOL_KEYS) {
    if (SIZE_KEYS.has(key)) continue;
    const v = s[key];
    if (typeof v !== "number" || Number.isNaN(v) || v < 0) throw new TypeError(`${key} must be a duration in ms >= 0, got ${v}`);
  }
  for (const key of ["connectionTimeout", "validationTimeout", "reapInterval"] as const) {
    if (!(s[key] > 0)) throw new TypeError(`${key} must be more than 0 ms`);
  }
  for (const key of ["validationTimeout", "reapInterval"] as const) {
    if (s[key] > MAX_TIMER) throw new TypeError(`${key} must be at most ${MAX_TIMER} ms`);
  }
  if (s.connectionTimeout > MAX_TIMER && s.connectionTimeout !== Infinity)
    throw new TypeError(`connectionTimeout must be at most ${MAX_TIMER} ms (or Infinity)`);
  if (typeof s.createConnection !== "function") throw new TypeError("createConnection must be a function");
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses one pool setting written as text (URL query, config file).
 * Sizes are whole numbers; durations take an optional unit, see the module comment.
 */
export function parsePoolValue(key: PoolKey, raw: string | number): number {
  const text = String(raw).trim();
  if (SIZE_KEYS.has(key)) {
    if (!/^\d+$/.test(text)) throw new TypeError(`${key} must be a whole number, got "${text}"`);
    return Number(text);
  }
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text);
  if (!m) throw new TypeError(`${key} must be a duration such as 500ms, 60s or 30m, got "${text}"`);
  const unit = (m[2] ?? (key === "maxIdleTime" ? "s" : "ms")) as keyof typeof UNIT_MS;
  return Number(m[1]) * UNIT_MS[unit];
}

/**
 * Reads pool settings from a `mysql://` URL's query and strips them, so the
 * rest of the URL goes to mysql2 untouched:
 * `createPool(poolOptionsFromUrl("mysql://u:p@h:3306/db?maxSize=20&maxIdleTime=60"))`.
 */
export function poolOptionsFromUrl(url: string | URL): PoolOptions & { uri: string } {
  const u = new URL(url);
  if (u.protocol !== "mysql:" && u.protocol !== "mariadb:")
    throw new TypeError(`expected a mysql:// URL, got ${u.protocol}//`);
  if (u.protocol === "mariadb:") u.protocol = "mysql:";
  const out: PoolOptions & { uri: string } = { uri: "" };
  for (const key of POOL_KEYS) {
    const values = u.searchParams.getAll(key);
    if (values.length === 0) continue;
    if (values.length > 1) throw new TypeError(`${key} appears ${values.length} times in the URL`);
    out[key] = parsePoolValue(key, values[0]!);
    u.searchParams.delete(key);
  }
  out.uri = u.toString();
  return out;
}

/**
 * A config file's database section. Accepts the reference projects' field
 * names (`ip`, `username`, `dbname`) as well as mysql2's (`host`, `user`,
 * `database`), and pool settings as numbers or strings (see the module comment
 * for units). Other keys pass through to mysql2.
 */
export interface PoolConfig {
  uri?: string;
  ip?: string;
  host?: string;
  port?: number | string;
  username?: string;
  user?: string;
  password?: string;
  dbname?: string;
  database?: string;
  initSize?: number | string;
  maxSize?: number | string;
  maxIdleTime?: number | string;
  connectionTimeout?: number | string;
  maxLifetime?: number | string;
  validationInterval?: number | string;
  validationTimeout?: number | string;
  reapInterval?: number | string;
  [mysql2Option: string]: unknown;
}

const ALIASES = [
  ["ip", "host"],
  ["username", "user"],
  ["dbname", "database"],
] as const;

/** Turns a config object (e.g. parsed JSON) into `createPool` options. */
export function poolOptionsFromConfig(config: PoolConfig): PoolOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    out[key] = isPoolKey(key) ? parsePoolValue(key, value as string | number) : value;
  }
  for (const [alias, name] of ALIASES) {
    if (!(alias in out)) continue;
    if (name in out && out[name] !== out[alias])
      throw new TypeError(`config gives both ${alias} (${out[alias]}) and ${name} (${out[name]})`);
    out[name] = out[alias];
    delete out[alias];
  }
  if (typeof out.port === "string") {
    if (!/^\d+$/.test(out.port)) throw new TypeError(`port must be a number, got "${out.port}"`);
    out.port = Number(out.port);
  }
  return out as PoolOptions;
}
