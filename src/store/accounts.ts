/**
 * Accounts as an operator sees them (`chat admin users`, `reset-password`):
 * never the password hash, never a token; counts instead of lists.
 */
import { type Db, exec, marks, queryRows, rows } from "./db.ts";

export interface Account {
  id: number;
  name: string;
  /** ms since the Unix epoch. */
  created: number;
  /** When the ban began (ms, database clock), or null. */
  banned: number | null;
}

/** An account with how many friends and groups it has. */
export interface AccountSummary extends Account {
  friends: number;
  groups: number;
}

const COLUMNS = "id, name, created_at, banned_at";
interface Row {
  id: number;
  name: string;
  created_at: number | string;
  banned_at: number | string | null;
}

const account = (r: Row): Account => ({
  id: Number(r.id),
  name: r.name,
  created: Number(r.created_at),
  banned: r.banned_at == null ? null : Number(r.banned_at),
});

export async function accountById(db: Db, id: number): Promise<Account | undefined> {
  const r = (await rows<Row>(db, `SELECT ${COLUMNS} FROM users WHERE id = ?`, [id]))[0];
  return r && account(r);
}

export async function accountByName(db: Db, name: string): Promise<Account | undefined> {
  const r = (await rows<Row>(db, `SELECT ${COLUMNS} FROM users WHERE name = ?`, [name]))[0];
  // PAD SPACE collation: "alice " = "alice" in SQL; names are exact.
  return r?.name === name ? account(r) : undefined;
}

/** `LIKE` matches `s` literally: its own % _ and \ escaped. */
function likePrefix(s: string): string {
  return `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Accounts whose name starts with `prefix` (a range of the name index), by
 * name; all accounts, newest first, when `prefix` is empty. At most `limit`.
 */
export async function accountsByPrefix(db: Db, prefix: string, limit: number): Promise<Account[]> {
  const r =
    prefix === ""
      ? await rows<Row>(db, `SELECT ${COLUMNS} FROM users ORDER BY id DESC LIMIT ?`, [String(limit)])
      : await rows<Row>(db, `SELECT ${COLUMNS} FROM users WHERE name LIKE ? ORDER BY name LIMIT ?`, [likePrefix(prefix), String(limit)]);
  return r.map(account);
}

/** The accounts with their friend and group counts, in the same order. */
export async function summaries(db: Db, accounts: Account[]): Promise<AccountSummary[]> {
  if (accounts.length === 0) return [];
  const ids = accounts.map((a) => a.id);
  const [friends, groups] = await Promise.all([
    queryRows<{ id: number; n: number }>(db, `SELECT user_id AS id, COUNT(*) AS n FROM friends WHERE user_id IN (${marks(ids.length)}) GROUP BY user_id`, ids),
    queryRows<{ id: number; n: number }>(db, `SELECT user_id AS id, COUNT(*) AS n FROM group_members WHERE user_id IN (${marks(ids.length)}) GROUP BY user_id`, ids),
  ]);
  const count = (list: { id: number; n: number }[]) => new Map(list.map((x) => [Number(x.id), Number(x.n)]));
  const f = count(friends);
  const g = count(groups);
  return accounts.map((a) => ({ ...a, friends: f.get(a.id) ?? 0, groups: g.get(a.id) ?? 0 }));
}

/** How many of the user's login tokens are still live. */
export async function liveTokens(db: Db, user: number): Promise<number> {
  const r = await rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM tokens WHERE user_id = ? AND expires_at > ?", [user, Date.now()]);
  return Number(r[0]?.n ?? 0);
}

/** Replaces the user's password hash; false when no user has that id. */
export async function setPasswordHash(db: Db, user: number, hash: string): Promise<boolean> {
  return (await exec(db, "UPDATE users SET password_hash = ? WHERE id = ?", [hash, user])).affectedRows === 1;
}
