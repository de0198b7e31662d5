import { type Db, exec, isDuplicate, marks, queryRows, rows } from "./db.ts";

export type Role = "creator" | "normal";

export interface GroupRow {
  id: number;
  name: string;
  desc: string;
}

export interface MemberRow {
  group_id: number;
  id: number;
  name: string;
  role: Role;
}

/** Creates a group with `creator` as its creator member; `undefined` when the name is taken. */
export async function createGroup(db: Db, name: string, desc: string, creator: number): Promise<number | undefined> {
  const now = Date.now();
  try {
    return await db.transaction(async (conn) => {
      const r = await exec(conn, "INSERT INTO chat_groups (name, description, creator_id, created_at) VALUES (?, ?, ?, ?)", [
        name,
        desc,
        creator,
        now,
      ]);
      await exec(conn, "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'creator', ?)", [r.insertId, creator, now]);
      await exec(conn, "INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (?, ?, 0, 0, 0)", [creator, r.insertId]);
      return r.insertId;
    });
  } catch (e) {
    if (isDuplicate(e)) return undefined;
    throw e;
  }
}

export async function groupById(db: Db, id: number): Promise<GroupRow | undefined> {
  return (await rows<GroupRow>(db, "SELECT id, name, description AS `desc` FROM chat_groups WHERE id = ?", [id]))[0];
}

/**
 * Adds a normal member; false when already a member. The member's positions
 * start at the group's latest message: earlier ones are history, not pending
 * and not unread.
 */
export async function joinGroup(db: Db, group: number, user: number): Promise<boolean> {
  try {
    await db.transaction(async (conn) => {
      await exec(conn, "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'normal', ?)", [group, user, Date.now()]);
      await exec(
        conn,
        "INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) SELECT ?, ?, 0, COALESCE(MAX(mid), 0), COALESCE(MAX(mid), 0) FROM messages WHERE group_id = ? ON DUPLICATE KEY UPDATE acked_upto = VALUES(acked_upto), read_upto = VALUES(read_upto)",
        [user, group, group],
      );
    });
    return true;
  } catch (e) {
    if (isDuplicate(e)) return false;
    throw e;
  }
}

/** Removes a member, and with it what was pending for them in the group; false when not a member. */
export async function leaveGroup(db: Db, group: number, user: number): Promise<boolean> {
  return db.transaction(async (conn) => {
    const r = await exec(conn, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", [group, user]);
    if (r.affectedRows === 0) return false;
    await exec(conn, "DELETE FROM positions WHERE user_id = ? AND group_id = ? AND peer_id = 0", [user, group]);
    await exec(conn, "DELETE a FROM acked_above a JOIN messages m ON m.mid = a.mid WHERE a.user_id = ? AND m.group_id = ?", [user, group]);
    return true;
  });
}

export async function roleIn(db: Db, group: number, user: number): Promise<Role | undefined> {
  return (await rows<{ role: Role }>(db, "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?", [group, user]))[0]?.role;
}

/** The groups of each of `users` (one statement for all of them). */
export async function groupIdsOf(db: Db, users: number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>(users.map((u) => [u, []]));
  if (users.length === 0) return out;
  for (const r of await queryRows<{ user_id: number; group_id: number }>(db, `SELECT user_id, group_id FROM group_members WHERE user_id IN (${marks(users.length)})`, users))
    out.get(r.user_id)?.push(r.group_id);
  return out;
}

/** The groups of `user` with this user's role in each. */
export async function groupsOf(db: Db, user: number): Promise<(GroupRow & { role: Role })[]> {
  return rows(
    db,
    "SELECT g.id, g.name, g.description AS `desc`, m.role FROM group_members m JOIN chat_groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.id",
    [user],
  );
}

/**
 * Members of the given groups: per group the creator first, then the others by
 * join time (same millisecond: by user id), so the order never depends on a tie.
 */
export async function membersOf(db: Db, groups: number[]): Promise<MemberRow[]> {
  if (groups.length === 0) return [];
  return queryRows<MemberRow>(
    db,
    `SELECT m.group_id, u.id, u.name, m.role FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN (${marks(groups.length)}) ORDER BY m.group_id, m.role = 'normal', m.joined_at, u.id`,
    groups,
  );
}

export async function groupByName(db: Db, name: string): Promise<GroupRow | undefined> {
  const r = (await rows<GroupRow>(db, "SELECT id, name, description AS `desc` FROM chat_groups WHERE name = ?", [name]))[0];
  // PAD SPACE collation: compare again, names are exact.
  return r?.name === name ? r : undefined;
}

/**
 * Deletes a group, its memberships and its members' delivery state in it,
 * in one transaction; returns the members it had, or undefined when no group
 * has that id. Its messages go after, in slices (deleteGroupMessages): one
 * transaction over a long history would hold its locks for minutes.
 */
export async function deleteGroup(db: Db, group: number): Promise<number[] | undefined> {
  return db.transaction(async (conn) => {
    // The group's row is the lock its message writers take (write-batch.ts): none commits into it meanwhile.
    const found = await rows<{ id: number }>(conn, "SELECT id FROM chat_groups WHERE id = ? FOR UPDATE", [group]);
    if (found.length === 0) return undefined;
    const members = (await rows<{ user_id: number }>(conn, "SELECT user_id FROM group_members WHERE group_id = ?", [group])).map((r) => Number(r.user_id));
    // positions and acked_above are keyed by user: reach them from the members
    // (a former member's rows went when they left), not by a scan.
    await exec(
      conn,
      "DELETE a FROM group_members gm JOIN acked_above a ON a.user_id = gm.user_id JOIN messages m ON m.mid = a.mid AND m.group_id = gm.group_id WHERE gm.group_id = ?",
      [group],
    );
    await exec(
      conn,
      "DELETE s FROM group_members gm JOIN positions s ON s.user_id = gm.user_id AND s.group_id = gm.group_id AND s.peer_id = 0 WHERE gm.group_id = ?",
      [group],
    );
    await exec(conn, "DELETE FROM group_members WHERE group_id = ?", [group]);
    await exec(conn, "DELETE FROM chat_groups WHERE id = ?", [group]);
    return members;
  });
}

/** Deletes up to `limit` messages of a deleted group; returns how many it deleted (fewer than `limit`: none is left). */
export async function deleteGroupMessages(db: Db, group: number, limit = 5000): Promise<number> {
  return (await exec(db, "DELETE FROM messages WHERE group_id = ? ORDER BY mid LIMIT ?", [group, String(limit)])).affectedRows;
}
