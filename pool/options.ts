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
import type { HostTarget } from "./failover.ts";
import { type HostSpec, joinHostListUrl, parseHost, splitHostListUrl } from "./hosts.ts";

/** What the pool reports when new connections move to another host. */
export interface FailoverEvent {
  /** "host:port" new connections went to until now. */
  from: string;
  /** "host:port" they go to from now on. */
  to: string;
  /** "failover" (the host failed) or "failback" (back to an earlier host of the list). */
  kind: "failover" | "failback";
}

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
   * With a host list: once new connections have moved past the first host,
   * go back to an earlier host of the list as soon as it answers and is ready
   * again (checked at each reaper run), closing the connections to the later
   * one as they come back. Off by default: a failover then sticks, so a host
   * that flaps does not move the writes back and forth, and an operator
   * decides when the first host takes writes again (deploy/README.md).
   * No effect with one host.
   */
  failback: boolean;
  /**
   * With a host list: a failover first waits a random 0 to this many
   * milliseconds, so the pools of several chat nodes that lost the same host
   * do not all connect to the next one in the same instant. Default 250.
   */
  failoverJitter: number;
  /**
   * Opens one connection. Default mysql2/promise `createConnection`; tests
   * inject a fake. Receives a fresh copy of the connection options each time.
   */
  createConnection: (options: ConnectionOptions) => Promise<Connection>;
  /** Called when new connections move to another host of the list (for the log). Default none. */
  onFailover: ((event: FailoverEvent) => void) | undefined;
}

/**
 * What `createPool` takes: mysql2 connection options (`uri` or host/port/...)
 * plus pool settings, plus `hosts`: the database hosts in order of
 * preference. New connections go to the first that answers and is ready; a
 * failed connect or a lost connection moves them down the list (see
 * pool/README.md, "Several hosts"). A `uri` may name the list itself:
 * `mysql://u:p@h1:3306,h2:3306,h3:3306/chat`.
 */
export type PoolOptions = ConnectionOptions & Partial<PoolSettings> & { hosts?: HostSpec[] };

/** Settings that can be written in a URL query or a config file (all but the injection points). */
export type PoolKey = Exclude<keyof PoolSettings, "createConnection" | "onFailover">;

export const POOL_DEFAULTS = {
  initSize: 2,
  maxSize: 10,
  maxIdleTime: 60_000,
  connectionTimeout: 5_000,
  maxLifetime: 30 * 60_000,
  validationInterval: 5_000,
  validationTimeout: 3_000,
  reapInterval: 10_000,
  failback: false,
  failoverJitter: 250,
  createConnection: (options: ConnectionOptions) => createConnection(options),
  onFailover: undefined,
} satisfies PoolSettings;

/**
 * mysql2's connect timeout for each host of a list unless one is given
 * (mysql2's own default is 10 s): a host that does not answer at all (its
 * machine gone, a partition) is passed over in 2 s, not 10.
 */
export const HOST_LIST_CONNECT_TIMEOUT = 2_000;

/**
 * Connection defaults: 4-byte UTF-8 so emoji survive, whatever the server's
 * default; no per-query stack capture (`trace`), which costs mysql2's promise
 * API as much CPU as the rest of a query under Bun (see README).
 */
export const CONNECTION_DEFAULTS = { charset: "utf8mb4", trace: false } satisfies ConnectionOptions;

const POOL_KEYS = Object.keys(POOL_DEFAULTS).filter((k) => k !== "createConnection" && k !== "onFailover") as PoolKey[];
const SIZE_KEYS = new Set<"initSize" | "maxSize">(["initSize", "maxSize"]);
/** Largest delay setTimeout honours; beyond it Node and Bun fire after 1 ms. */
const MAX_TIMER = 2 ** 31 - 1;

function isPoolKey(key: string): key is PoolKey {
  return (POOL_KEYS as string[]).includes(key);
}

/**
 * Splits options into pool settings (defaults merged, validated), connection
 * options, and the hosts to connect to (one, or the list) with the
 * connection options for each.
 */
export function resolvePoolOptions(options: PoolOptions = {}): {
  settings: PoolSettings;
  connection: ConnectionOptions;
  targets: HostTarget[];
} {
  const { createConnection, onFailover, hosts, ...rest } = options;
  const pool: Partial<PoolSettings> = {};
  const connection: Record<string, unknown> = { ...CONNECTION_DEFAULTS };
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (isPoolKey(key)) (pool as Record<string, unknown>)[key] = value;
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
      (pool as Record<string, unknown>)[key] = v;
    }
  }
  const settings: PoolSettings = {
    ...POOL_DEFAULTS,
    ...pool,
    createConnection: createConnection ?? POOL_DEFAULTS.createConnection,
    onFailover,
  };
  // The reaper must wake at least once per maxIdleTime, or a short one is not honoured:
  // with a fixed 10 s, connections idle for 500 ms would live 10 s.
  if (pool.reapInterval === undefined && settings.maxIdleTime > 0)
    settings.reapInterval = Math.min(POOL_DEFAULTS.reapInterval, settings.maxIdleTime);
  validate(settings);
  const conn = connection as ConnectionOptions;
  return { settings, connection: conn, targets: targetsOf(conn, hosts) };
}

/** One target per host: the list's (URL or `hosts`), or the one host the options name. */
function targetsOf(connection: ConnectionOptions, hosts: HostSpec[] | undefined): HostTarget[] {
  let targets: HostTarget[];
  if (hosts !== undefined) {
    if (!Array.isArray(hosts) || hosts.length === 0) throw new TypeError("hosts must be a list of at least one host");
    if (typeof connection.uri === "string") throw new TypeError("give the hosts either in the uri or as hosts, not both");
    if (connection.socketPath !== undefined) throw new TypeError("hosts and socketPath do not go together");
    targets = hosts.map((h) => {
      const a = parseHost(h, connection.port ?? 3306);
      return { label: a.label, connection: { ...connection, host: a.host, port: a.port } };
    });
  } else if (typeof connection.uri === "string") {
    const list = splitHostListUrl(connection.uri);
    targets = list.urls.map((uri, i) => ({ label: parseHost(list.hosts[i] ?? "localhost").label, connection: { ...connection, uri } }));
  } else {
    const label = connection.socketPath ?? parseHost(connection.host ?? "localhost", connection.port ?? 3306).label;
    targets = [{ label, connection }];
  }
  const labels = targets.map((t) => t.label);
  const twice = labels.find((l, i) => labels.indexOf(l) !== i);
  if (twice !== undefined) throw new TypeError(`the host list names ${twice} twice`);
  if (targets.length > 1)
    for (const t of targets) if (t.connection.connectTimeout === undefined) t.connection.connectTimeout = HOST_LIST_CONNECT_TIMEOUT;
  return targets;
}

function validate(s: PoolSettings): void {
  for (const key of SIZE_KEYS) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 0) throw new TypeError(`${key} must be a whole number >= 0, got ${v}`);
  }
  if (s.maxSize < 1) throw new TypeError("maxSize must be at least 1");
  if (s.initSize > s.maxSize) throw new TypeError(`initSize (${s.initSize}) is larger than maxSize (${s.maxSize})`);
  if (typeof s.failback !== "boolean") throw new TypeError(`failback must be true or false, got ${s.failback}`);
  if (s.onFailover !== undefined && typeof s.onFailover !== "function") throw new TypeError("onFailover must be a function");
  for (const key of POOL_KEYS) {
    if ((SIZE_KEYS as Set<string>).has(key) || key === "failback") continue;
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
export function parsePoolValue(key: PoolKey, raw: string | number | boolean): number | boolean {
  const text = String(raw).trim();
  if (key === "failback") {
    if (/^(true|1|on|yes)$/i.test(text)) return true;
    if (/^(false|0|off|no)$/i.test(text)) return false;
    throw new TypeError(`failback must be true or false, got "${text}"`);
  }
  if ((SIZE_KEYS as Set<string>).has(key)) {
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
  // A host list: each host's own URL must parse; the query is the same in all of them.
  const list = splitHostListUrl(String(url));
  for (const [i, one] of list.urls.entries()) {
    try {
      new URL(one);
    } catch {
      throw new TypeError(`host ${i + 1} of the URL's list (${list.hosts[i]}) does not make a valid URL`);
    }
  }
  const u = new URL(list.urls[0]!);
  if (u.protocol !== "mysql:" && u.protocol !== "mariadb:")
    throw new TypeError(`expected a mysql:// URL, got ${u.protocol}//`);
  if (u.protocol === "mariadb:") u.protocol = "mysql:";
  const out: PoolOptions & { uri: string } = { uri: "" };
  for (const key of POOL_KEYS) {
    const values = u.searchParams.getAll(key);
    if (values.length === 0) continue;
    if (values.length > 1) throw new TypeError(`${key} appears ${values.length} times in the URL`);
    (out as unknown as Record<string, unknown>)[key] = parsePoolValue(key, values[0]!);
    u.searchParams.delete(key);
  }
  out.uri = list.hosts.length > 1 ? joinHostListUrl(u.toString(), list.hosts) : u.toString();
  return out;
}

/**
 * A config file's database section. Accepts the reference projects' field
 * names (`ip`, `username`, `dbname`) as well as mysql2's (`host`, `user`,
 * `database`), and pool settings as numbers or strings (see the module comment
 * for units). Other keys pass through to mysql2. Several hosts: `ip` (or
 * `host`, or `hosts`) as a list, `["10.0.0.21", "10.0.0.22:3307"]`, `port`
 * the default for entries without one; or the whole section as a list of
 * such objects, one per host (poolOptionsFromConfig).
 */
export interface PoolConfig {
  uri?: string;
  ip?: string | HostSpec[];
  host?: string | HostSpec[];
  hosts?: HostSpec[];
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
  failback?: boolean | string;
  failoverJitter?: number | string;
  [mysql2Option: string]: unknown;
}

const ALIASES = [
  ["ip", "host"],
  ["username", "user"],
  ["dbname", "database"],
] as const;

/**
 * Turns a config object (e.g. parsed JSON) into `createPool` options. A list
 * of objects is a host list in the seed projects' style, one
 * `{ ip, port, ... }` per host in order of preference: the other fields
 * (user, password, database, pool settings) are given once or alike in each.
 */
export function poolOptionsFromConfig(config: PoolConfig | PoolConfig[]): PoolOptions {
  if (Array.isArray(config)) return fromConfigList(config);
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
  if (Array.isArray(out.host)) {
    if (out.hosts !== undefined) throw new TypeError("config gives the host list twice (ip or host as a list, and hosts)");
    out.hosts = out.host;
    delete out.host;
  }
  if (out.hosts !== undefined) {
    if (!Array.isArray(out.hosts)) throw new TypeError("hosts must be a list such as [\"10.0.0.21:3306\", \"10.0.0.22:3306\"]");
    if (out.host !== undefined) throw new TypeError("config gives both a host and a host list");
  }
  return out as PoolOptions;
}

function fromConfigList(list: PoolConfig[]): PoolOptions {
  if (list.length === 0) throw new TypeError("the database config list is empty");
  const hosts: HostSpec[] = [];
  const shared: Record<string, unknown> = {};
  list.forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new TypeError(`entry ${i + 1} of the database config list must be an object ({ ip, port, ... })`);
    const { host, port, hosts: nested, uri, ...rest } = poolOptionsFromConfig(entry);
    if (nested !== undefined || uri !== undefined) throw new TypeError(`entry ${i + 1} of the database config list: one host per entry, as ip (or host) and port`);
    if (typeof host !== "string") throw new TypeError(`entry ${i + 1} of the database config list has no ip (or host)`);
    hosts.push({ host, port });
    for (const [key, value] of Object.entries(rest)) {
      if (key in shared && shared[key] !== value)
        throw new TypeError(`the database config list gives ${key} differently for different hosts; give it alike or only once`);
      shared[key] = value;
    }
  });
  return { ...shared, hosts } as PoolOptions;
}
