/**
 * What deleting an account removes (protocol 1.1 `delete_account`): its
 * friendships, requests, blocks, group bans, deliveries pending to it, its
 * tokens, the text of every message it sent, its name and its password hash.
 * Its id stays, so that its messages remain as tombstones and it is never
 * reused. Group memberships go first, through leaveGroup (the creator's
 * succession, a group left empty deleted).
 */
import { type Db, exec, rows } from "./db.ts";

/** Erases the texts in slices, so that no statement outlives the statement timeout. */
const SLICE = 5000;

/** The account's state after its groups are left; returns the friends it had. */
export async function deleteAccountRows(db: Db, user: number, now: number): Promise<number[]> {
  const friends = (await rows<{ friend_id: number }>(db, "SELECT friend_id FROM friends WHERE user_id = ?", [user])).map((r) => r.friend_id);
  await db.transaction(async (conn) => {
    await exec(conn, "DELETE FROM friends WHERE user_id = ? OR friend_id = ?", [user, user]);
    await exec(conn, "DELETE FROM friend_requests WHERE from_id = ? OR to_id = ?", [user, user]);
    await exec(conn, "DELETE FROM blocks WHERE user_id = ? OR blocked_id = ?", [user, user]);
    await exec(conn, "DELETE FROM group_bans WHERE user_id = ?", [user]);
    await exec(conn, "DELETE FROM positions WHERE user_id = ?", [user]);
    await exec(conn, "DELETE FROM acked_above WHERE user_id = ?", [user]);
    await exec(conn, "DELETE FROM tokens WHERE user_id = ?", [user]);
    await exec(conn, "UPDATE users SET name = NULL, password_hash = '', deleted_at = ? WHERE id = ?", [now, user]);
  });
  for (;;) {
    const r = await exec(db, "UPDATE messages SET body = '', deleted = ? WHERE sender_id = ? AND deleted IS NULL LIMIT ?", [now, user, String(SLICE)]);
    if (r.affectedRows < SLICE) break;
  }
  return friends;
}
