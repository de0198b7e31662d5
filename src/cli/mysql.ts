/**
 * The database option `chat server` and `chat migrate` share: `--mysql`, a
 * mysql:// URL, or in the config file an object with the reference projects'
 * keys.
 */
import { type PoolConfig, type PoolOptions, poolOptionsFromConfig, poolOptionsFromUrl } from "../../pool/index.ts";
import type { Option } from "./options.ts";
import type { ValueType } from "./value-types.ts";

/** `--mysql`: the URL or the config object, as pool options (a URL becomes `uri` plus the pool settings in its query). */
export const mysqlTarget: ValueType<PoolOptions> = {
  arg: "URL",
  parse(text) {
    return poolOptionsFromUrl(text);
  },
  fromJson(value) {
    if (typeof value === "string") return mysqlTarget.parse(value);
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new TypeError("must be a mysql:// URL or an object (ip, port, username, password, dbname, ...)");
    return poolOptionsFromConfig(value as PoolConfig);
  },
};

export const MYSQL_OPTIONS = {
  mysql: {
    type: mysqlTarget,
    env: "CHAT_MYSQL_URL",
    required: true,
    help:
      "MySQL/MariaDB, mysql://user:password@host:port/db (pool settings may go in the query)",
  },
} satisfies Record<string, Option<unknown>>;

/** The URL for the migrator, which takes only a URL: the pool's own, or one built from the config object's fields. */
export function mysqlUrlOf(pool: PoolOptions): string {
  if (typeof pool.uri === "string") return pool.uri;
  const u = new URL("mysql://localhost");
  u.hostname = pool.host ?? "localhost";
  u.port = String(pool.port ?? 3306);
  u.username = encodeURIComponent(pool.user ?? "root");
  u.password = encodeURIComponent(pool.password ?? "");
  u.pathname = `/${pool.database ?? "chat"}`;
  return u.toString();
}
