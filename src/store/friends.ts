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

export async function friendsOf(db: Db, user: number): Promise<UserRow[]> {
  return rows<UserRow>(
    db,
    "SELECT u.id, u.name FROM friends f JOIN users u ON u.id = f.friend_id WHERE f.user_id = ? ORDER BY u.id",
    [user],
  );
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
