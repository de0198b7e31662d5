/** Databases for tests: each caller gets a fresh, migrated one on the test MariaDB. */
import mysql from "mysql2/promise";
import { migrate } from "../../sql/migrate.ts";

let counter = 0;

/** The test MariaDB's URL (set by test/setup.ts), pointing at database `chat`. */
export function mysqlUrl(): string {
  const url = process.env.CHAT_MYSQL_URL;
  if (!url) throw new Error("CHAT_MYSQL_URL is not set: run tests with `bun test` (bunfig preloads test/setup.ts)");
  return url;
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
