/**
 * Groups and their members. Every change to a group's membership or roles
 * takes the group's row first (then member and positions rows), the order
 * the message writer takes them in too (store/write-batch.ts). Leaves, kicks,
 * role changes and deletes of one group happen one after the other, and
 * joins beside each other but not beside those: a group always has exactly
 * one creator while it has members, and a group whose last member leaves is
 * deleted.
 */
import { type Connection, type Db, exec, isDuplicate, marks, queryRows, rows } from "./db.ts";
import { withRetry } from "./server-pool.ts";

export type Role = "creator" | "admin" | "normal";

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

export interface UserRef {
  id: number;
  name: string;
}

/** A member as the group's administration sees them. */
export interface Member extends UserRef {
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

/** What `joinGroup` did. */
export type JoinResult = "joined" | "already_member" | "banned" | "no_such_group";

/**
 * Adds a normal member. The member's positions start at the group's latest
 * message: earlier ones are history, not pending and not unread. A group
 * deleted, or a ban given, while the join was on its way is answered here.
 */
export async function joinGroup(db: Db, group: number, user: number): Promise<JoinResult> {
  try {
    return await withRetry(() =>
      db.transaction(async (conn): Promise<JoinResult> => {
        // A share lock: joins go beside each other, not beside a leave, a kick or a delete.
        if ((await rows(conn, "SELECT id FROM chat_groups WHERE id = ? LOCK IN SHARE MODE", [group])).length === 0) return "no_such_group";
        if ((await rows(conn, "SELECT 1 FROM group_bans WHERE group_id = ? AND user_id = ?", [group, user])).length > 0) return "banned";
        await exec(conn, "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'normal', ?)", [group, user, Date.now()]);
        await exec(
          conn,
          "INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) SELECT ?, ?, 0, COALESCE(MAX(mid), 0), COALESCE(MAX(mid), 0) FROM messages WHERE group_id = ? ON DUPLICATE KEY UPDATE acked_upto = VALUES(acked_upto), read_upto = VALUES(read_upto)",
          [user, group, group],
        );
        return "joined";
      }),
    );
  } catch (e) {
    if (isDuplicate(e)) return "already_member";
    throw e;
  }
}

/** What `leaveGroup` did: whether the user was a member (and the group there), who became creator, whether the group went. */
export type LeaveResult = { left: false; group: boolean } | { left: true; successor?: UserRef; deleted: boolean };

/**
 * Removes a member, and with it what was pending for them in the group. A
 * creator who leaves passes the role on to the admin who joined first, or
 * else to the member who joined first; the last member to leave deletes the
 * group (its messages are then the caller's to purge: purgeMessages).
 */
export async function leaveGroup(db: Db, group: number, user: number): Promise<LeaveResult> {
  return withRetry(() =>
    db.transaction(async (conn): Promise<LeaveResult> => {
      if (!(await lockGroup(conn, group))) return { left: false, group: false };
      const me = (await lockMembers(conn, group, [user])).get(user);
      if (!me) return { left: false, group: true };
      await removeMember(conn, group, user);
      if (me.role === "creator") {
        const successor = (
          await rows<UserRef>(
            conn,
            "SELECT u.id, u.name FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY m.role = 'admin' DESC, m.joined_at, m.user_id LIMIT 1 FOR UPDATE",
            [group],
          )
        )[0];
        if (successor) {
          await exec(conn, "UPDATE group_members SET role = 'creator' WHERE group_id = ? AND user_id = ?", [group, successor.id]);
          await exec(conn, "UPDATE chat_groups SET creator_id = ? WHERE id = ?", [successor.id, group]);
          return { left: true, successor, deleted: false };
        }
      } else if ((await rows(conn, "SELECT 1 FROM group_members WHERE group_id = ? LIMIT 1", [group])).length > 0) {
        return { left: true, deleted: false };
      }
      await deleteLocked(conn, group);
      return { left: true, deleted: true };
    }),
  );
}

/**
 * One change to a group, in a transaction that holds the group's row and the
 * rows of the members it was opened with: what it read cannot change under
 * it. Throwing in the callback of changeGroup rolls everything back.
 */
export class GroupChange {
  constructor(
    readonly conn: Connection,
    readonly group: GroupRow,
    /** The users the change was opened with who are members, by id. */
    readonly members: ReadonlyMap<number, Member>,
  ) {}

  async setRole(user: number, role: Exclude<Role, "creator">) {
    await exec(this.conn, "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?", [role, this.group.id, user]);
  }

  /** Removes a member as leaving does; with `bannedBy`, they may not join again until unbanned. */
  async kick(user: number, bannedBy?: number) {
    await removeMember(this.conn, this.group.id, user);
    if (bannedBy !== undefined)
      await exec(
        this.conn,
        "INSERT INTO group_bans (group_id, user_id, by_id, ts) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE by_id = VALUES(by_id), ts = VALUES(ts)",
        [this.group.id, user, bannedBy, Date.now()],
      );
  }

  /** Lifts a ban; false when there was none. */
  async unban(user: number): Promise<boolean> {
    return (await exec(this.conn, "DELETE FROM group_bans WHERE group_id = ? AND user_id = ?", [this.group.id, user])).affectedRows > 0;
  }

  /** Gives the group a name and a description; false when the name is another group's. */
  async update(name: string, desc: string): Promise<boolean> {
    try {
      await exec(this.conn, "UPDATE chat_groups SET name = ?, description = ? WHERE id = ?", [name, desc, this.group.id]);
      return true;
    } catch (e) {
      if (isDuplicate(e)) return false;
      throw e;
    }
  }

  /** Deletes the group, its bans and everyone's delivery state in it, and returns who its members were. Its messages go with purgeMessages, after the commit. */
  async delete(): Promise<number[]> {
    const members = await rows<{ user_id: number }>(this.conn, "SELECT user_id FROM group_members WHERE group_id = ?", [this.group.id]);
    await deleteLocked(this.conn, this.group.id);
    return members.map((m) => m.user_id);
  }
}

/**
 * Runs `fn` on `group` with its row locked and the memberships of `users`
 * read (and locked); `undefined` when no group has that id.
 */
export async function changeGroup<T>(db: Db, group: number, users: number[], fn: (change: GroupChange) => Promise<T>): Promise<T | undefined> {
  return withRetry(() =>
    db.transaction(async (conn) => {
      const row = await lockGroup(conn, group);
      if (!row) return undefined;
      return fn(new GroupChange(conn, row, await lockMembers(conn, group, users)));
    }),
  );
}

/** A group's messages go in statements of at most this many rows: none runs into the statement timeout. */
const PURGE_CHUNK = 5000;

/**
 * Deletes all the messages of a deleted group; returns how many went.
 * Nothing reaches them any more (no group, no positions), so they go after
 * the group's transaction, in small statements, instead of holding its
 * locks while a long history is deleted.
 */
export async function purgeMessages(db: Db, group: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteGroupMessages(db, group, PURGE_CHUNK);
    total += n;
    if (n < PURGE_CHUNK) return total;
  }
}

/** Whether `user` is banned from `group`. */
export async function isBanned(db: Db, group: number, user: number): Promise<boolean> {
  return (await rows(db, "SELECT 1 FROM group_bans WHERE group_id = ? AND user_id = ?", [group, user])).length > 0;
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
 * Members of the given groups: per group the creator first, then the others
 * (admins among them) by join time (same millisecond: by user id), so the
 * order never depends on a tie.
 */
export async function membersOf(db: Db, groups: number[]): Promise<MemberRow[]> {
  if (groups.length === 0) return [];
  return queryRows<MemberRow>(
    db,
    `SELECT m.group_id, u.id, u.name, m.role FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN (${marks(groups.length)}) ORDER BY m.group_id, m.role <> 'creator', m.joined_at, u.id`,
    groups,
  );
}

export async function groupByName(db: Db, name: string): Promise<GroupRow | undefined> {
  const r = (await rows<GroupRow>(db, "SELECT id, name, description AS `desc` FROM chat_groups WHERE name = ?", [name]))[0];
  // PAD SPACE collation: compare again, names are exact.
  return r?.name === name ? r : undefined;
}

/**
 * Deletes a group, its memberships, bans and its members' delivery state in
 * it, in one transaction; returns the members it had, or undefined when no
 * group has that id. Its messages go after, in slices (deleteGroupMessages):
 * one transaction over a long history would hold its locks for minutes.
 */
export async function deleteGroup(db: Db, group: number): Promise<number[] | undefined> {
  // The group's row is the lock its message writers take (write-batch.ts): none commits into it meanwhile.
  return changeGroup(db, group, [], (g) => g.delete());
}

/** Deletes up to `limit` messages of a deleted group; returns how many it deleted (fewer than `limit`: none is left). */
export async function deleteGroupMessages(db: Db, group: number, limit = 5000): Promise<number> {
  return (await exec(db, "DELETE FROM messages WHERE group_id = ? ORDER BY mid LIMIT ?", [group, String(limit)])).affectedRows;
}

async function lockGroup(conn: Connection, group: number): Promise<GroupRow | undefined> {
  return (await rows<GroupRow>(conn, "SELECT id, name, description AS `desc` FROM chat_groups WHERE id = ? FOR UPDATE", [group]))[0];
}

async function lockMembers(conn: Connection, group: number, users: number[]): Promise<Map<number, Member>> {
  if (users.length === 0) return new Map();
  const r = await queryRows<Member>(
    conn,
    `SELECT u.id, u.name, m.role FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND m.user_id IN (${marks(users.length)}) FOR UPDATE`,
    [group, ...users],
  );
  return new Map(r.map((m) => [m.id, m]));
}

/** A member goes, and what was pending for them in the group with them. */
async function removeMember(conn: Connection, group: number, user: number) {
  await exec(conn, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", [group, user]);
  await exec(conn, "DELETE FROM positions WHERE user_id = ? AND group_id = ? AND peer_id = 0", [user, group]);
  await exec(conn, "DELETE a FROM acked_above a JOIN messages m ON m.mid = a.mid WHERE a.user_id = ? AND m.group_id = ?", [user, group]);
}

/**
 * Deletes a locked group and every member's delivery state in it; its
 * messages are left to purgeMessages. Each statement starts from the
 * members: positions and acked_above are keyed by user.
 */
async function deleteLocked(conn: Connection, group: number) {
  await exec(
    conn,
    "DELETE a FROM group_members gm JOIN acked_above a ON a.user_id = gm.user_id JOIN messages m ON m.mid = a.mid AND m.group_id = gm.group_id WHERE gm.group_id = ?",
    [group],
  );
  await exec(conn, "DELETE s FROM group_members gm JOIN positions s ON s.user_id = gm.user_id AND s.group_id = gm.group_id AND s.peer_id = 0 WHERE gm.group_id = ?", [group]);
  await exec(conn, "DELETE FROM group_members WHERE group_id = ?", [group]);
  await exec(conn, "DELETE FROM group_bans WHERE group_id = ?", [group]);
  await exec(conn, "DELETE FROM chat_groups WHERE id = ?", [group]);
}
