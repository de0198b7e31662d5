/**
 * The database options `chat server` and `chat migrate` share: `--mysql`
 * (a mysql:// URL, or in the config file an object with the reference
 * projects' keys) and `--mysql-password-file`, which keeps the password out of
 * the URL, so it needs no percent-encoding and stays out of the environment.
 * Either form may name several hosts (a Galera cluster): in the URL
 * `mysql://user:password@10.0.0.21:3306,10.0.0.22:3306,10.0.0.23:3306/chat`,
 * in the config file `"ip": ["10.0.0.21", ...]` or a list of objects, one per
 * host. The pool writes through the first that is ready and fails over down
 * the list (pool/README.md, "Several hosts").
 */
import {
  joinHostListUrl,
  type PoolConfig,
  type PoolOptions,
  parseHost,
  poolOptionsFromConfig,
  poolOptionsFromUrl,
  splitHostListUrl,
} from "../../pool/index.ts";
import type { Option } from "./options.ts";
import { secretFile, type ValueType } from "./value-types.ts";

const ENCODE_HINT =
  "percent-encode it in the URL (/ as %2F, # as %23, ? as %3F, % as %25; encodeURIComponent does it) " +
  "or leave it out and give it with --mysql-password-file";

/** `"/"`, which ends / `"?" and "/"`, which end */
function holds(chars: string[]): string {
  const q = chars.map((c) => `"${c}"`);
  return q.length === 1 ? `${q[0]}, which ends` : `${q.slice(0, -1).join(", ")} and ${q.at(-1)}, which end`;
}

/**
 * What is wrong with a mysql:// URL, in words an operator can act on
 * ("is not a valid URL: ..."), or undefined. Never repeats the URL: it holds
 * the password.
 */
export function mysqlUrlProblem(text: string): string | undefined {
  let list: ReturnType<typeof splitHostListUrl>;
  try {
    list = splitHostListUrl(text);
  } catch (e) {
    return `is not a valid URL: ${(e as Error).message}`;
  }
  if (list.urls.length > 1) {
    for (const [i, one] of list.urls.entries()) {
      const problem = oneUrlProblem(one);
      if (problem) return `(host ${i + 1} of its list, ${list.hosts[i]}) ${problem}`;
    }
    return undefined;
  }
  return oneUrlProblem(text);
}

function oneUrlProblem(text: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== "mysql" && scheme !== "mariadb")
    return scheme
      ? `must be a mysql:// URL, not ${scheme}://`
      : "must be a URL such as mysql://user:password@host:3306/chat";
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  // The user:password part ends at the last "@"; in a URL it also ends at the
  // first "/", "?" or "#", so a password holding one of those breaks the URL
  // apart (or, worse, parses as a different host and port).
  const rest = text.slice(scheme.length + 3);
  const at = rest.lastIndexOf("@");
  const breakers = [...new Set(rest.slice(0, Math.max(at, 0)).match(/[/?#]/g) ?? [])];
  const misparsed = u !== undefined && u.username === "" && u.password === "";
  if (breakers.length > 0 && (u === undefined || misparsed))
    return `is not a valid URL: the password (or user name) holds ${holds(breakers)} that part of a URL; ${ENCODE_HINT}`;
  if (u === undefined) return `is not a valid URL (mysql://user:password@host:3306/chat); a password with characters such as / # ? % must be percent-encoded: ${ENCODE_HINT}`;
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return `is not a valid URL: the password (or user name) holds a "%" not followed by two hex digits; ${ENCODE_HINT}`;
  }
  return undefined;
}

/** `--mysql`: the URL or the config object, as pool options (a URL becomes `uri` plus the pool settings in its query). */
export const mysqlTarget: ValueType<PoolOptions> = {
  arg: "URL",
  parse(text) {
    const problem = mysqlUrlProblem(text);
    if (problem) throw new TypeError(problem);
    return poolOptionsFromUrl(text);
  },
  fromJson(value) {
    if (typeof value === "string") return mysqlTarget.parse(value);
    if (typeof value !== "object" || value === null)
      throw new TypeError("must be a mysql:// URL, an object (ip, port, username, password, dbname, ...) or a list of such objects, one per host");
    return poolOptionsFromConfig(value as PoolConfig | PoolConfig[]);
  },
};

export const MYSQL_OPTIONS = {
  mysql: {
    type: mysqlTarget,
    env: "CHAT_MYSQL_URL",
    required: true,
    help:
      "MySQL/MariaDB, mysql://user:password@host:port/db (pool settings may go in the query; " +
      "a password with / # ? % percent-encoded, or use --mysql-password-file); several hosts, " +
      "mysql://user:password@h1:3306,h2:3306,h3:3306/db, for a Galera cluster: writes go to the first " +
      "that is ready and move down the list when it fails",
  },
  mysqlPasswordFile: {
    type: secretFile,
    env: "CHAT_MYSQL_PASSWORD_FILE",
    help: "file holding the MySQL password (one line); overrides the password in --mysql",
  },
} satisfies Record<string, Option<unknown>>;

/** The pool options with `password` in place of the one in the URL or the config object. */
export function withPassword(pool: PoolOptions, password: string | undefined): PoolOptions {
  if (password === undefined) return pool;
  if (typeof pool.uri !== "string") return { ...pool, password };
  const { hosts, urls } = splitHostListUrl(pool.uri);
  const u = new URL(urls[0]!);
  // The setter leaves "%" alone, so the encoded form survives; mysql2 decodes it.
  u.password = encodeURIComponent(password);
  return { ...pool, uri: hosts.length > 1 ? joinHostListUrl(u.toString(), hosts) : u.toString() };
}

/** The URL for the migrator, which takes only a URL: the pool's own, or one built from the config object's fields (a host list too). */
export function mysqlUrlOf(pool: PoolOptions): string {
  if (typeof pool.uri === "string") return pool.uri;
  const u = new URL("mysql://localhost");
  u.hostname = pool.host ?? "localhost";
  u.port = String(pool.port ?? 3306);
  u.username = encodeURIComponent(pool.user ?? "root");
  u.password = encodeURIComponent(pool.password ?? "");
  u.pathname = `/${pool.database ?? "chat"}`;
  if (pool.hosts === undefined) return u.toString();
  return joinHostListUrl(u.toString(), pool.hosts.map((h) => parseHost(h, pool.port ?? 3306).label));
}
