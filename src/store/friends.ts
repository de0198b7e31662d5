import { type Db, exec, isDuplicate, marks, queryRows, rows } from "./db.ts";
import type { UserRow } from "./users.ts";

/** Makes a and b friends of each other; false when they already were. */
export async function addFriendship(db: Db, a: number, b: number): Promise<boolean> {
  const now = Date.now();
  try {
    await db.transaction(async (conn) => {
      await exec(conn, "INSERT INTO friends (user_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)", [a, b, now, b, a, now]);
      // Each side's delivery and read position in the conversation; kept from an earlier friendship if there was one.
      await exec(conn, "INSERT IGNORE INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (?, 0, ?, 0, 0), (?, 0, ?, 0, 0)", [a, b, b, a]);
    });
    return true;
  } catch (e) {
    if (isDuplicate(e)) return false;
    throw e;
  }
}

/** Ends a friendship both ways; false when there was none. Positions stay: a new friendship resumes where this one ended. */
export async function removeFriendship(db: Db, a: number, b: number): Promise<boolean> {
  const r = await exec(db, "DELETE FROM friends WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)", [a, b, b, a]);
  return r.affectedRows > 0;
}

export async function friendsOf(db: Db, user: number): Promise<UserRow[]> {
  return rows<UserRow>(
    db,
    "SELECT u.id, u.name FROM friends f JOIN users u ON u.id = f.friend_id WHERE f.user_id = ? ORDER BY u.id",
    [user],
  );
}

/** The friends of each of `users` (one statement for all of them). */
export async function friendIdsOf(db: Db, users: number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>(users.map((u) => [u, []]));
  if (users.length === 0) return out;
  for (const r of await queryRows<{ user_id: number; friend_id: number }>(db, `SELECT user_id, friend_id FROM friends WHERE user_id IN (${marks(users.length)})`, users))
    out.get(r.user_id)?.push(r.friend_id);
  return out;
}

export async function friendIds(db: Db, user: number): Promise<number[]> {
  return (await rows<{ friend_id: number }>(db, "SELECT friend_id FROM friends WHERE user_id = ?", [user])).map((r) => r.friend_id);
}

/** Whether `other` exists, and whether `user` and `other` are friends: one query for send's two errors. */
export async function friendship(db: Db, user: number, other: number): Promise<{ exists: boolean; friends: boolean }> {
  const r = await rows<{ id: number; friend_id: number | null }>(
    db,
    "SELECT u.id, f.friend_id FROM users u LEFT JOIN friends f ON f.user_id = ? AND f.friend_id = u.id WHERE u.id = ?",
    [user, other],
  );
  return { exists: r.length > 0, friends: r[0]?.friend_id != null };
}

/** How many friends each of `users` has (absent: none). */
export async function friendCounts(db: Db, users: number[]): Promise<Map<number, number>> {
  const r = await queryRows<{ user_id: number; n: number }>(
    db,
    `SELECT user_id, COUNT(*) AS n FROM friends WHERE user_id IN (${marks(users.length)}) GROUP BY user_id`,
    users,
  );
  return new Map(r.map((x) => [x.user_id, Number(x.n)]));
}
