/**
 * Group administration (protocol 1.1 `group_admin`) against a real server and
 * MariaDB: set_role, kick (with ban), group_unban, update_group, delete_group,
 * the `admin` role in member lists, the creator's succession, the deletion of
 * a group whose last member leaves, and every error in the protocol's order.
 * Pushes across two nodes: group-admin-cluster.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { type Frame, framesUntilPing, type Person, session, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";

const srv = sharedServer({ node: "ga-1" });
const fresh = (prefix = "ga") => srv.fresh(prefix);

function err(code: string) {
  return expect.objectContaining({ type: "error", code, message: expect.any(String) });
}

/** Another session of `p`'s user, closed after the file. */
async function again(p: Person): Promise<Person> {
  const s = await session(srv.port, p.name);
  srv.keep(s.w);
  return s;
}

/** A group made by `creator` that `members` join, in that order; its id. */
async function groupOf(creator: Person, ...members: Person[]): Promise<number> {
  const g = (await creator.w.ok({ type: "create_group", name: uniq("grp"), desc: "d" })).group.id as number;
  for (const m of members) await m.w.ok({ type: "join_group", group: g });
  return g;
}

/** Frame counts now, to look at what came after. */
const marks = (...people: Person[]) => people.map((p) => p.w.frames.length);

/** The pushes of `type` `p` got since `from`, up to a ping answered now. */
async function since(p: Person, from: number, type: string): Promise<Frame[]> {
  return (await framesUntilPing(p.w, from)).filter((f) => f.type === type);
}

const ref = (p: Person) => ({ id: p.id, name: p.name });

/** Rows of `sql` in the server's database: for what no request shows (deleted messages). */
async function count(sql: string, params: unknown[]): Promise<number> {
  const [rows] = (await srv.ts.pool.query(sql, params)) as unknown as [{ n: number }[]];
  return Number(rows[0]?.n);
}

describe("hello", () => {
  test("lists group_admin among the features", async () => {
    const w = await srv.conn();
    expect(w.frames[0]?.features).toContain("group_admin");
  });
});

describe("set_role", () => {
  test("makes a member an admin: role_changed to every member's sessions but the requesting one, and member lists show admin", async () => {
    const creator = await fresh();
    const creator2 = await again(creator);
    const bob = await fresh();
    const bob2 = await again(bob);
    const carol = await fresh();
    const g = await groupOf(creator, bob, carol);
    const from = marks(creator, creator2, bob, bob2, carol);
    expect(await creator.w.req({ type: "set_role", id: 9001, group: g, user: bob.id, role: "admin" })).toEqual({ type: "ok", re: 9001 });
    const pushed = { type: "role_changed", group: g, user: ref(bob), role: "admin" };
    expect(await creator2.w.push("role_changed", () => true, from[1])).toEqual(pushed);
    expect(await bob.w.push("role_changed", () => true, from[2])).toEqual(pushed);
    expect(await bob2.w.push("role_changed", () => true, from[3])).toEqual(pushed);
    expect(await carol.w.push("role_changed", () => true, from[4])).toEqual(pushed);
    expect(await since(creator, from[0] as number, "role_changed")).toEqual([]);

    // groups, join_group and the login reply show the role; the creator stays first, then join order.
    const listed = (await carol.w.ok({ type: "groups" })).groups.find((x: Frame) => x.id === g);
    expect(listed.members.map((m: Frame) => [m.id, m.role])).toEqual([
      [creator.id, "creator"],
      [bob.id, "admin"],
      [carol.id, "normal"],
    ]);
    expect((await bob.w.ok({ type: "groups" })).groups.find((x: Frame) => x.id === g).role).toBe("admin");
    const dave = await fresh();
    const joined = await dave.w.ok({ type: "join_group", group: g });
    expect(joined.group.members.map((m: Frame) => m.role)).toEqual(["creator", "admin", "normal", "normal"]);
    const relogin = await again(bob);
    expect(relogin.login.groups.find((x: Frame) => x.id === g).role).toBe("admin");
  });

  test("makes an admin normal again", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "admin" });
    const from = bob.w.frames.length;
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "normal" });
    expect(await bob.w.push("role_changed", (f) => f.role === "normal", from)).toEqual({ type: "role_changed", group: g, user: ref(bob), role: "normal" });
    expect((await bob.w.ok({ type: "groups" })).groups[0].role).toBe("normal");
  });

  test("answers ok and pushes nothing when the member already has the role", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    const from = marks(bob);
    expect((await creator.w.req({ type: "set_role", group: g, user: bob.id, role: "normal" })).type).toBe("ok");
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "admin" });
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "admin" });
    expect((await since(bob, from[0] as number, "role_changed")).map((f) => f.role)).toEqual(["admin"]);
  });

  test("answers invalid for the requester's own role, before every other error", async () => {
    const creator = await fresh();
    const g = await groupOf(creator);
    expect(await creator.w.req({ type: "set_role", group: g, user: creator.id, role: "normal" })).toEqual(err("invalid"));
    expect(await creator.w.req({ type: "set_role", group: 9_000_000_000, user: creator.id, role: "admin" })).toEqual(err("invalid"));
  });

  test("answers no_such_group, then not_member for the requester, then for the user, then forbidden", async () => {
    const creator = await fresh();
    const admin = await fresh();
    const bob = await fresh();
    const outsider = await fresh();
    const g = await groupOf(creator, admin, bob);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    expect(await bob.w.req({ type: "set_role", group: 9_000_000_000, user: 12345678, role: "admin" })).toEqual(err("no_such_group"));
    const notMe = await outsider.w.req({ type: "set_role", group: g, user: 12345678, role: "admin" });
    expect(notMe).toEqual(err("not_member"));
    expect(notMe.message).toContain("you are not");
    // A normal member naming a non-member: not_member comes before forbidden.
    const notThem = await bob.w.req({ type: "set_role", group: g, user: outsider.id, role: "admin" });
    expect(notThem).toEqual(err("not_member"));
    expect(notThem.message).toContain(`user ${outsider.id}`);
    expect(await creator.w.req({ type: "set_role", group: g, user: outsider.id, role: "admin" })).toEqual(err("not_member"));
    // Only the creator sets roles: admins and normal members are forbidden.
    expect(await admin.w.req({ type: "set_role", group: g, user: bob.id, role: "admin" })).toEqual(err("forbidden"));
    expect(await bob.w.req({ type: "set_role", group: g, user: admin.id, role: "normal" })).toEqual(err("forbidden"));
    expect(await admin.w.req({ type: "set_role", group: g, user: creator.id, role: "normal" })).toEqual(err("forbidden"));
    expect((await bob.w.ok({ type: "groups" })).groups[0].members.map((m: Frame) => m.role)).toEqual(["creator", "admin", "normal"]);
  });

  test("answers bad_frame for a role that is not admin or normal", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    const r = await creator.w.req({ type: "set_role", group: g, user: bob.id, role: "creator" });
    expect(r).toEqual(err("bad_frame"));
    expect(r.message).toBe('role: must be "admin" or "normal"');
  });
});

describe("kick", () => {
  test("removes a member: member_left with by to every member's sessions, the kicked user's too, but the requesting one", async () => {
    const creator = await fresh();
    const creator2 = await again(creator);
    const bob = await fresh();
    const bob2 = await again(bob);
    const carol = await fresh();
    const g = await groupOf(creator, bob, carol);
    const from = marks(creator, creator2, bob, bob2, carol);
    expect(await creator.w.req({ type: "kick", id: 9002, group: g, user: bob.id })).toEqual({ type: "ok", re: 9002 });
    const pushed = { type: "member_left", group: g, user: ref(bob), by: ref(creator) };
    expect(await creator2.w.push("member_left", () => true, from[1])).toEqual(pushed);
    expect(await bob.w.push("member_left", () => true, from[2])).toEqual(pushed);
    expect(await bob2.w.push("member_left", () => true, from[3])).toEqual(pushed);
    expect(await carol.w.push("member_left", () => true, from[4])).toEqual(pushed);
    expect(await since(creator, from[0] as number, "member_left")).toEqual([]);
    // Each push once, though the kicked user's sessions were in the group when it went.
    expect(await since(bob, from[2] as number, "member_left")).toHaveLength(1);

    // Neither of the kicked user's sessions is a member any more.
    for (const s of [bob, bob2]) {
      expect(await s.w.req({ type: "group_send", group: g, text: "still here?" })).toEqual(err("not_member"));
      expect(await s.w.req({ type: "history", group: g })).toEqual(err("not_member"));
      expect((await s.w.ok({ type: "groups" })).groups).toEqual([]);
    }
    const m = await carol.w.ok({ type: "group_send", group: g, text: "after the kick" });
    await creator.w.push("msg", (f) => f.mid === m.mid);
    expect((await since(bob, from[2] as number, "msg")).filter((f) => f.group === g)).toEqual([]);
    expect((await since(bob2, from[3] as number, "msg")).filter((f) => f.group === g)).toEqual([]);
    expect((await creator.w.ok({ type: "groups" })).groups[0].members.map((x: Frame) => x.id)).toEqual([creator.id, carol.id]);
  });

  test("takes what was pending for the kicked user in the group with them", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    bob.w.close();
    await creator.w.ok({ type: "group_send", group: g, text: "one" });
    await creator.w.ok({ type: "group_send", group: g, text: "two" });
    const before = await again(bob); // replayed, not acked: still pending
    expect(before.login.pending).toBe(2);
    expect(before.login.unread).toBe(2);
    expect((await before.w.ok({ type: "conversations" })).conversations.filter((c: Frame) => c.group === g)).toHaveLength(1);
    before.w.close();
    await creator.w.ok({ type: "kick", group: g, user: bob.id });
    const after = await again(bob);
    expect(after.login.pending).toBe(0);
    expect(after.login.unread).toBe(0);
    expect(await since(after, 0, "msg")).toEqual([]);
    expect((await after.w.ok({ type: "conversations" })).conversations.filter((c: Frame) => c.group === g)).toEqual([]);
  });

  test("lets a kicked user join again at once, as a normal member", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "admin" });
    await creator.w.ok({ type: "kick", group: g, user: bob.id, ban: false });
    const joined = await bob.w.ok({ type: "join_group", group: g });
    expect(joined.group.role).toBe("normal");
    expect((await bob.w.req({ type: "group_send", group: g, text: "back" })).type).toBe("ok");
  });

  test("with ban: join_group answers forbidden until group_unban", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    await creator.w.ok({ type: "kick", group: g, user: bob.id, ban: true });
    await bob.w.push("member_left", (f) => f.user.id === bob.id);
    const refused = await bob.w.req({ type: "join_group", group: g });
    expect(refused).toEqual(err("forbidden"));
    expect(refused.message).toContain("banned");
    expect(await bob.w.req({ type: "join_group", group: g })).toEqual(err("forbidden"));
    // The ban is of this group only.
    const other = await groupOf(creator);
    expect((await bob.w.req({ type: "join_group", group: other })).type).toBe("ok");
    expect(await creator.w.req({ type: "group_unban", id: 9003, group: g, user: bob.id })).toEqual({ type: "ok", re: 9003 });
    expect((await bob.w.ok({ type: "join_group", group: g })).group.role).toBe("normal");
  });

  test("lets an admin kick normal members only, and the creator kick anyone", async () => {
    const creator = await fresh();
    const admin = await fresh();
    const admin2 = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, admin, admin2, bob);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    await creator.w.ok({ type: "set_role", group: g, user: admin2.id, role: "admin" });
    expect(await admin.w.req({ type: "kick", group: g, user: admin2.id })).toEqual(err("forbidden"));
    expect(await admin.w.req({ type: "kick", group: g, user: creator.id })).toEqual(err("forbidden"));
    expect(await admin.w.req({ type: "kick", group: g, user: creator.id, ban: true })).toEqual(err("forbidden"));
    const from = bob.w.frames.length;
    expect((await admin.w.req({ type: "kick", group: g, user: bob.id, ban: true })).type).toBe("ok");
    expect((await bob.w.push("member_left", () => true, from)).by).toEqual(ref(admin));
    expect((await creator.w.req({ type: "kick", group: g, user: admin2.id })).type).toBe("ok");
    // An admin unbans too, whoever banned.
    expect(await bob.w.req({ type: "join_group", group: g })).toEqual(err("forbidden"));
    await admin.w.ok({ type: "group_unban", group: g, user: bob.id });
    expect((await bob.w.req({ type: "join_group", group: g })).type).toBe("ok");
  });

  test("answers invalid for kicking yourself, before every other error", async () => {
    const creator = await fresh();
    const g = await groupOf(creator);
    expect(await creator.w.req({ type: "kick", group: g, user: creator.id })).toEqual(err("invalid"));
    expect(await creator.w.req({ type: "kick", group: 9_000_000_000, user: creator.id, ban: true })).toEqual(err("invalid"));
    expect((await creator.w.ok({ type: "groups" })).groups).toHaveLength(1);
  });

  test("answers no_such_group, then not_member for the requester, then for the user, then forbidden", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const carol = await fresh();
    const outsider = await fresh();
    const g = await groupOf(creator, bob, carol);
    expect(await bob.w.req({ type: "kick", group: 9_000_000_000, user: carol.id })).toEqual(err("no_such_group"));
    const notMe = await outsider.w.req({ type: "kick", group: g, user: 12345678 });
    expect(notMe).toEqual(err("not_member"));
    expect(notMe.message).toContain("you are not");
    // A normal member kicking a non-member: not_member, not forbidden; so for a ban of a non-member.
    expect(await bob.w.req({ type: "kick", group: g, user: outsider.id })).toEqual(err("not_member"));
    const notThem = await creator.w.req({ type: "kick", group: g, user: outsider.id, ban: true });
    expect(notThem).toEqual(err("not_member"));
    expect(notThem.message).toContain(`user ${outsider.id}`);
    expect((await outsider.w.req({ type: "join_group", group: g })).type).toBe("ok");
    expect(await bob.w.req({ type: "kick", group: g, user: carol.id })).toEqual(err("forbidden"));
    expect(await bob.w.req({ type: "kick", group: g, user: creator.id, ban: true })).toEqual(err("forbidden"));
    expect((await carol.w.req({ type: "group_send", group: g, text: "still in" })).type).toBe("ok");
  });
});

describe("group_unban", () => {
  test("answers ok for a user who is not banned, changing nothing", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator);
    expect((await creator.w.req({ type: "group_unban", group: g, user: bob.id })).type).toBe("ok");
    expect((await creator.w.req({ type: "group_unban", group: g, user: 12345678 })).type).toBe("ok");
    expect((await bob.w.req({ type: "join_group", group: g })).type).toBe("ok");
  });

  test("answers invalid for yourself, then no_such_group, then not_member for the requester only, then forbidden", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const banned = await fresh();
    const outsider = await fresh();
    const g = await groupOf(creator, bob, banned);
    await creator.w.ok({ type: "kick", group: g, user: banned.id, ban: true });
    expect(await creator.w.req({ type: "group_unban", group: g, user: creator.id })).toEqual(err("invalid"));
    expect(await bob.w.req({ type: "group_unban", group: 9_000_000_000, user: banned.id })).toEqual(err("no_such_group"));
    expect(await outsider.w.req({ type: "group_unban", group: g, user: banned.id })).toEqual(err("not_member"));
    expect(await banned.w.req({ type: "group_unban", group: g, user: bob.id })).toEqual(err("not_member"));
    expect(await bob.w.req({ type: "group_unban", group: g, user: banned.id })).toEqual(err("forbidden"));
    expect(await banned.w.req({ type: "join_group", group: g })).toEqual(err("forbidden"));
  });
});

describe("update_group", () => {
  test("renames and re-describes the group: group_updated to every member's sessions but the requesting one", async () => {
    const creator = await fresh();
    const admin = await fresh();
    const admin2 = await again(admin);
    const bob = await fresh();
    const g = await groupOf(creator, admin, bob);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    const name = uniq("renamed");
    const from = marks(creator, admin, admin2, bob);
    const r = await admin.w.req({ type: "update_group", id: 9004, group: g, name, desc: "new things" });
    expect(r).toEqual({ type: "ok", re: 9004, group: { id: g, name, desc: "new things" } });
    const pushed = { type: "group_updated", group: { id: g, name, desc: "new things" } };
    expect(await creator.w.push("group_updated", () => true, from[0])).toEqual(pushed);
    expect(await admin2.w.push("group_updated", () => true, from[2])).toEqual(pushed);
    expect(await bob.w.push("group_updated", () => true, from[3])).toEqual(pushed);
    expect(await since(admin, from[1] as number, "group_updated")).toEqual([]);
    expect((await bob.w.ok({ type: "groups" })).groups[0]).toMatchObject({ id: g, name, desc: "new things" });
  });

  test("keeps the description when only the name is given, and the name when only the description is", async () => {
    const creator = await fresh();
    const g = await groupOf(creator);
    const name = uniq("only-name");
    expect((await creator.w.ok({ type: "update_group", group: g, name })).group).toEqual({ id: g, name, desc: "d" });
    expect((await creator.w.ok({ type: "update_group", group: g, desc: "" })).group).toEqual({ id: g, name, desc: "" });
  });

  test("answers ok and pushes nothing when nothing changes", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    const current = (await bob.w.ok({ type: "groups" })).groups[0];
    const from = bob.w.frames.length;
    const r = await creator.w.ok({ type: "update_group", group: g, name: current.name, desc: current.desc });
    expect(r.group).toEqual({ id: g, name: current.name, desc: current.desc });
    expect(await since(bob, from, "group_updated")).toEqual([]);
  });

  test("frees the old name and answers group_name_taken for another group's", async () => {
    const creator = await fresh();
    const g = await groupOf(creator);
    const old = (await creator.w.ok({ type: "groups" })).groups[0].name;
    const otherName = uniq("taken");
    await creator.w.ok({ type: "create_group", name: otherName });
    expect(await creator.w.req({ type: "update_group", group: g, name: otherName })).toEqual(err("group_name_taken"));
    await creator.w.ok({ type: "update_group", group: g, name: uniq("moved") });
    expect((await creator.w.req({ type: "create_group", name: old })).type).toBe("ok");
  });

  test("answers no_such_group, then not_member, then forbidden, then group_name_taken", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const outsider = await fresh();
    const g = await groupOf(creator, bob);
    const taken = uniq("taken");
    await creator.w.ok({ type: "create_group", name: taken });
    expect(await bob.w.req({ type: "update_group", group: 9_000_000_000, name: taken })).toEqual(err("no_such_group"));
    expect(await outsider.w.req({ type: "update_group", group: g, name: taken })).toEqual(err("not_member"));
    expect(await bob.w.req({ type: "update_group", group: g, name: taken })).toEqual(err("forbidden"));
    expect(await bob.w.req({ type: "update_group", group: g, desc: "mine" })).toEqual(err("forbidden"));
    expect(await creator.w.req({ type: "update_group", group: g, name: taken })).toEqual(err("group_name_taken"));
  });

  test("answers bad_frame without a name or a description", async () => {
    const creator = await fresh();
    const g = await groupOf(creator);
    expect(await creator.w.req({ type: "update_group", group: g })).toEqual(err("bad_frame"));
  });
});

describe("delete_group", () => {
  test("deletes the group: group_deleted to every member's sessions but the requesting one, and nobody is a member", async () => {
    const creator = await fresh();
    const creator2 = await again(creator);
    const bob = await fresh();
    const bob2 = await again(bob);
    const g = await groupOf(creator, bob);
    const name = (await bob.w.ok({ type: "groups" })).groups[0].name;
    const from = marks(creator, creator2, bob, bob2);
    expect(await creator.w.req({ type: "delete_group", id: 9005, group: g })).toEqual({ type: "ok", re: 9005 });
    const pushed = { type: "group_deleted", group: g };
    expect(await creator2.w.push("group_deleted", () => true, from[1])).toEqual(pushed);
    expect(await bob.w.push("group_deleted", () => true, from[2])).toEqual(pushed);
    expect(await bob2.w.push("group_deleted", () => true, from[3])).toEqual(pushed);
    expect(await since(creator, from[0] as number, "group_deleted")).toEqual([]);
    for (const s of [creator, creator2, bob, bob2]) {
      expect(await s.w.req({ type: "group_send", group: g, text: "anyone?" })).toEqual(err("no_such_group"));
      expect(await s.w.req({ type: "history", group: g })).toEqual(err("no_such_group"));
      expect((await s.w.ok({ type: "groups" })).groups).toEqual([]);
    }
    expect(await bob.w.req({ type: "join_group", group: g })).toEqual(err("no_such_group"));
    // Its name is free again; the id is never a group again.
    const reborn = await bob.w.ok({ type: "create_group", name });
    expect(reborn.group.id).not.toBe(g);
  });

  test("takes the group's messages and their pending deliveries with it", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const banned = await fresh();
    const g = await groupOf(creator, bob, banned);
    await creator.w.ok({ type: "kick", group: g, user: banned.id, ban: true });
    bob.w.close();
    await creator.w.ok({ type: "group_send", group: g, text: "one" });
    await creator.w.ok({ type: "group_send", group: g, text: "two" });
    const before = await again(bob);
    expect(before.login.pending).toBe(2);
    // bob acks one of them out of order, so his delivery state has rows of both kinds.
    const replayed = await before.w.push("msg", (f) => f.text === "two");
    await before.w.ok({ type: "ack", mids: [replayed.mid] });
    before.w.close();
    expect(await count("SELECT COUNT(*) AS n FROM messages WHERE group_id = ?", [g])).toBe(2);
    await creator.w.ok({ type: "delete_group", group: g });
    const after = await again(bob);
    expect(after.login.pending).toBe(0);
    expect(after.login.unread).toBe(0);
    expect(await since(after, 0, "msg")).toEqual([]);
    expect((await after.w.ok({ type: "conversations" })).conversations.filter((c: Frame) => c.group === g)).toEqual([]);
    expect(await count("SELECT COUNT(*) AS n FROM messages WHERE group_id = ?", [g])).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM positions WHERE group_id = ?", [g])).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM acked_above WHERE mid = ?", [replayed.mid])).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM group_bans WHERE group_id = ?", [g])).toBe(0);
  });

  test("answers no_such_group, then not_member, then forbidden for everyone but the creator", async () => {
    const creator = await fresh();
    const admin = await fresh();
    const bob = await fresh();
    const outsider = await fresh();
    const g = await groupOf(creator, admin, bob);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    expect(await bob.w.req({ type: "delete_group", group: 9_000_000_000 })).toEqual(err("no_such_group"));
    expect(await outsider.w.req({ type: "delete_group", group: g })).toEqual(err("not_member"));
    expect(await admin.w.req({ type: "delete_group", group: g })).toEqual(err("forbidden"));
    expect(await bob.w.req({ type: "delete_group", group: g })).toEqual(err("forbidden"));
    expect((await bob.w.req({ type: "group_send", group: g, text: "still here" })).type).toBe("ok");
  });
});

describe("the creator's succession", () => {
  test("passes the role to the admin who joined first, with role_changed to the remaining members", async () => {
    const creator = await fresh();
    const early = await fresh();
    const admin1 = await fresh();
    const admin2 = await fresh();
    const g = await groupOf(creator, early, admin1, admin2);
    // admin2 is made admin first; admin1 joined first, so admin1 succeeds.
    await creator.w.ok({ type: "set_role", group: g, user: admin2.id, role: "admin" });
    await creator.w.ok({ type: "set_role", group: g, user: admin1.id, role: "admin" });
    const from = marks(creator, early, admin1, admin2);
    await creator.w.ok({ type: "leave_group", group: g });
    const pushed = { type: "role_changed", group: g, user: ref(admin1), role: "creator" };
    for (const [i, p] of [early, admin1, admin2].entries()) {
      expect(await p.w.push("role_changed", () => true, from[i + 1])).toEqual(pushed);
      expect(await p.w.push("member_left", () => true, from[i + 1])).toEqual({ type: "member_left", group: g, user: ref(creator) });
    }
    expect(await since(creator, from[0] as number, "role_changed")).toEqual([]);
    const members = (await early.w.ok({ type: "groups" })).groups[0].members;
    expect(members.map((m: Frame) => [m.id, m.role])).toEqual([
      [admin1.id, "creator"],
      [early.id, "normal"],
      [admin2.id, "admin"],
    ]);
    // The new creator has the creator's powers.
    await admin1.w.ok({ type: "set_role", group: g, user: admin2.id, role: "normal" });
    expect((await admin1.w.req({ type: "delete_group", group: g })).type).toBe("ok");
  });

  test("passes the role to the member who joined first when there is no admin", async () => {
    const creator = await fresh();
    const first = await fresh();
    const second = await fresh();
    const g = await groupOf(creator, first, second);
    const from = second.w.frames.length;
    await creator.w.ok({ type: "leave_group", group: g });
    expect(await second.w.push("role_changed", () => true, from)).toEqual({ type: "role_changed", group: g, user: ref(first), role: "creator" });
    expect((await first.w.ok({ type: "groups" })).groups[0].role).toBe("creator");
    // The creator who left may come back, as a normal member.
    expect((await creator.w.ok({ type: "join_group", group: g })).group.role).toBe("normal");
  });

  test("deletes a group whose last member leaves, with its messages; a normal member leaving pushes no role change", async () => {
    const creator = await fresh();
    const bob = await fresh();
    const g = await groupOf(creator, bob);
    await creator.w.ok({ type: "group_send", group: g, text: "soon gone" });
    const name = (await bob.w.ok({ type: "groups" })).groups[0].name;
    const from = creator.w.frames.length;
    await bob.w.ok({ type: "leave_group", group: g });
    await creator.w.push("member_left", () => true, from);
    expect(await since(creator, from, "role_changed")).toEqual([]);
    await creator.w.ok({ type: "leave_group", group: g });
    expect(await bob.w.req({ type: "join_group", group: g })).toEqual(err("no_such_group"));
    expect(await count("SELECT COUNT(*) AS n FROM messages WHERE group_id = ?", [g])).toBe(0);
    expect((await bob.w.req({ type: "create_group", name })).type).toBe("ok");
  });
});
