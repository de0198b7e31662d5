/** `chat migrate`: its option table (the server's database options), and the migration run with them. */
import { migrate } from "../../sql/migrate.ts";
import { redact } from "../server/run.ts";
import { MYSQL_OPTIONS, mysqlUrlOf, withPassword } from "./mysql.ts";
import type { Parsed, Table } from "./options.ts";
import { file } from "./value-types.ts";

export const MIGRATE_OPTIONS = {
  ...MYSQL_OPTIONS,
  config: { type: file, env: "CHAT_CONFIG", help: "the server's JSON config file: its database options are used, the others ignored" },
} satisfies Table;

export const MIGRATE_SUMMARY = "Creates or updates the database schema, then exits.";

export async function migrateCommand({ values }: Parsed<typeof MIGRATE_OPTIONS>): Promise<void> {
  const url = mysqlUrlOf(withPassword(values.mysql, values.mysqlPasswordFile));
  const r = await migrate(url);
  console.log(r.applied.length ? `applied ${r.applied.join(", ")} to ${redact(url)}` : `${redact(url)} is up to date (schema version ${r.current})`);
}
