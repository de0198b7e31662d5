/**
 * Applies the schema. Each migration runs once per database, recorded in
 * `schema_migrations`; the SQL files are themselves idempotent, so a migration
 * interrupted half-way is simply applied again. The files are imported as text
 * so that the compiled executable carries them.
 */
import mysql from "mysql2/promise";
import { connectFirstReady, isHostListUrl } from "../pool/index.ts";
import init from "./001_init.sql" with { type: "text" };
import positions from "./002_positions.sql" with { type: "text" };
import groupAdmin from "./003_group_admin.sql" with { type: "text" };
import bans from "./004_bans.sql" with { type: "text" };
import consent from "./005_consent.sql" with { type: "text" };
import accountDeletion from "./006_account_deletion.sql" with { type: "text" };
import lastIn from "./007_last_in.sql" with { type: "text" };

export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: "001_init", sql: init },
  { version: 2, name: "002_positions", sql: positions },
  { version: 3, name: "003_group_admin", sql: groupAdmin },
  { version: 4, name: "004_bans", sql: bans },
  { version: 5, name: "005_consent", sql: consent },
  { version: 6, name: "006_account_deletion", sql: accountDeletion },
  { version: 7, name: "007_last_in", sql: lastIn },
];

/** MySQL's answers to a statement the user has no privilege for. */
const ACCESS_DENIED = new Set(["ER_TABLEACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_SPECIFIC_ACCESS_DENIED_ERROR", "ER_COLUMNACCESS_DENIED_ERROR"]);

/**
 * A migration is due and this user may not change the schema: the least
 * privilege setup of deploy/README.md, where nodes only read and write rows
 * and `chat migrate` runs with a second user.
 */
export class MigrationDeniedError extends Error {
  readonly code = "migration_denied";
  constructor(migration: string, cause: Error) {
    super(
      `schema migration ${migration} is due and this MySQL user may not change the schema (${cause.message}); ` +
        "run `chat migrate` with a user that may (deploy/README.md, step 5), then start the node again",
      { cause },
    );
  }
}

/** Rethrows a privilege refusal as a MigrationDeniedError naming `migration`, anything else as it is. */
function explainDenial(migration: string): (e: unknown) => never {
  return (e) => {
    throw ACCESS_DENIED.has((e as { code?: string })?.code ?? "") ? new MigrationDeniedError(migration, e as Error) : e;
  };
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

/**
 * The versions applied so far. The table is created only when it is missing,
 * so that a user without CREATE (a node's, in the least privilege setup)
 * finds a current schema current without trying to change anything.
 */
async function appliedVersions(conn: mysql.Connection): Promise<{ version: number }[]> {
  try {
    const [rows] = (await conn.query("SELECT version FROM schema_migrations")) as unknown as [{ version: number }[]];
    return rows;
  } catch (e) {
    if ((e as { code?: string }).code !== "ER_NO_SUCH_TABLE") throw e;
  }
  await conn.query(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB",
  ).catch(explainDenial(MIGRATIONS[0]!.name));
  return [];
}

/**
 * Migrates the database named in `uri` (mysql://user:pass@host:port/db, or
 * a host list, mysql://user:pass@h1:3306,h2:3306/db: then on the first host
 * that answers and is ready, as the pool would choose);
 * `upTo` stops after that version (tests of one migration).
 * Concurrent migrators (two nodes starting together) serialize on a named lock.
 */
export async function migrate(uri: string, options: { upTo?: number } = {}): Promise<MigrateResult> {
  const conn = isHostListUrl(uri)
    ? await connectFirstReady({ uri, multipleStatements: true })
    : await mysql.createConnection({ uri, multipleStatements: true, connectTimeout: 10_000 });
  try {
    const [[lock]] = (await conn.query("SELECT GET_LOCK('chat_migrate', 60) AS ok")) as unknown as [[{ ok: number }]];
    if (lock?.ok !== 1) throw new Error("another migration holds the lock for 60 s");
    const done = new Set((await appliedVersions(conn)).map((r) => r.version));
    const applied: string[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version) || m.version > (options.upTo ?? Number.POSITIVE_INFINITY)) continue;
      await conn.query(m.sql).catch(explainDenial(m.name));
      await conn.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [
        m.version,
        m.name,
        Date.now(),
      ]);
      applied.push(m.name);
    }
    await conn.query("SELECT RELEASE_LOCK('chat_migrate')");
    return { applied, current: Math.max(0, ...[...done, ...MIGRATIONS.filter((m) => applied.includes(m.name)).map((m) => m.version)]) };
  } finally {
    await conn.end();
  }
}
