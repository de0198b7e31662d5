/**
 * Databases for tests: each caller gets a fresh, migrated one on the test
 * MariaDB. Importing this module starts the run's MariaDB and Redis if nothing
 * started them yet (services.ts): at import, not in a beforeAll, because a
 * module's evaluation has no time limit and a hook has bun's (5 s unless the
 * run sets --timeout), while a first start takes longer than that.
 */
import mysql from "mysql2/promise";
import { migrate } from "../../sql/migrate.ts";
import { testServices } from "./services.ts";

const services = await testServices();
let counter = 0;

/** The test MariaDB's URL, pointing at database `chat`. */
export function mysqlUrl(): string {
  return services.mysqlUrl;
}

/** The test Redis's URL. */
export function redisUrl(): string {
  return services.redisUrl;
}

/** Creates an empty database and returns its URL. `migrated` (default true) applies the schema. */
export async function freshDatabase(opts: { migrated?: boolean } = {}): Promise<string> {
  const base = new URL(mysqlUrl());
  const name = `chat_t${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const conn = await mysql.createConnection({ uri: base.toString() });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  base.pathname = `/${name}`;
  const url = base.toString();
  if (opts.migrated !== false) await migrate(url);
  return url;
}
