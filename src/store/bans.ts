/**
 * Bans (`chat admin ban`): a banned user cannot log in, and each node ends
 * the sessions of users banned lately (the ones Redis did not tell it about).
 * Ban times are the database's clock, so that nodes and the admin command
 * agree on "lately" whatever their own clocks say.
 */
import { type Db, exec, rows } from "./db.ts";

/** Now in ms since the Unix epoch by the database's clock, whatever its time zone. */
const DB_NOW = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6)) DIV 1000";

/** Bans `user` from now; false when it was banned already (its ban keeps its time). */
export async function ban(db: Db, user: number): Promise<boolean> {
  return (await exec(db, `UPDATE users SET banned_at = ${DB_NOW} WHERE id = ? AND banned_at IS NULL`, [user])).affectedRows === 1;
}

/** Lifts the ban of `user`; false when it was not banned. */
export async function unban(db: Db, user: number): Promise<boolean> {
  return (await exec(db, "UPDATE users SET banned_at = NULL WHERE id = ? AND banned_at IS NOT NULL", [user])).affectedRows === 1;
}

/** The database's clock now, ms since the Unix epoch. */
export async function databaseNow(db: Db): Promise<number> {
  return Number((await rows<{ now: number | string }>(db, `SELECT ${DB_NOW} AS now`))[0]?.now);
}

/** Users banned at or after `since` (database clock, ms) and still banned, at most `limit`. */
export async function bannedSince(db: Db, since: number, limit = 10_000): Promise<number[]> {
  const r = await rows<{ id: number }>(db, "SELECT id FROM users WHERE banned_at >= ? ORDER BY banned_at LIMIT ?", [since, String(limit)]);
  return r.map((x) => Number(x.id));
}
