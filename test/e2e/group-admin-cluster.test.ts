/**
 * Group administration across two nodes, one MariaDB and a Redis of this
 * file's own: every push (role_changed, group_updated, group_deleted,
 * member_left with by) reaches members on the other node, a kicked user's
 * session there stops being a member, and revocations made while Redis was
 * down take effect on the other node when Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { framesUntilPing } from "../support/conformance.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { uniq } from "../support/server.ts";
import { PrivateRedis } from "../support/private-redis.ts";
import { waitUntil } from "../support/wait.ts";
import type { Frame, Wire } from "../support/wire.ts";

let redis: PrivateRedis;
let n1: NodeProcess;
let n2: NodeProcess;
const open: Wire[] = [];

beforeAll(async () => {
  redis = await PrivateRedis.start();
  const dbUrl = await freshDatabase();
  const redisUrl = redis.url;
  [n1, n2] = await Promise.all([spawnNode({ node: "ga1", mysqlUrl: dbUrl, redisUrl }), spawnNode({ node: "ga2", mysqlUrl: dbUrl, redisUrl })]);
});

afterAll(async () => {
  for (const w of open) w.close();
  await Promise.all([n1?.kill(), n2?.kill()]);
  await redis?.close();
});

interface Who {
  w: Wire;
  id: number;
  name: string;
}

/** A session of `name` on `node`, registering the user first unless `again`. */
async function on(node: NodeProcess, name: string, again = false): Promise<Who> {
  const w = await node.connect();
  open.push(w);
  if (!again) await w.ok({ type: "register", name, password: "password-1" });
  const r = await w.ok({ type: "login", name, password: "password-1" });
  return { w, id: r.user.id, name };
}

const ref = (p: Who) => ({ id: p.id, name: p.name });

/** A group made by `creator` that `members` join; its id. */
async function groupOf(creator: Who, ...members: Who[]): Promise<number> {
  const g = (await creator.w.ok({ type: "create_group", name: uniq("cg") })).group.id as number;
  for (const m of members) await m.w.ok({ type: "join_group", group: g });
  return g;
}

/**
 * Waits until a message `sender` sends to `group` reaches every one of
 * `readers` live: each node has then subscribed to the group's channel (a
 * subscription is made in the background as a member's session joins).
 */
async function flowing(group: number, sender: Who, readers: Who[]) {
  await waitUntil(`group ${group} messages reach every member`, async () => {
    const m = await sender.w.ok({ type: "group_send", group, text: "warm-up" });
    const got = await Promise.all(readers.map((r) => r.w.push("msg", (f) => f.mid === m.mid, 0, 1_000).then(() => true, () => false)));
    return got.every(Boolean);
  });
}

/** How many times `line` is in `node`'s log. */
const inLog = (node: NodeProcess, line: string) => node.log().split(line).length - 1;

describe("group administration across two nodes", () => {
  it("pushes role_changed to members on both nodes, the target's sessions included, but not to the requesting session", async () => {
    const creator = await on(n1, uniq("rc_c"));
    const creator2 = await on(n2, creator.name, true);
    const bob = await on(n2, uniq("rc_b"));
    const carol = await on(n1, uniq("rc_x"));
    const g = await groupOf(creator, bob, carol);
    await flowing(g, carol, [creator, creator2, bob]);
    const from = creator.w.frames.length;
    await creator.w.ok({ type: "set_role", group: g, user: bob.id, role: "admin" });
    const pushed = { type: "role_changed", group: g, user: ref(bob), role: "admin" };
    for (const p of [creator2, bob, carol]) expect(await p.w.push("role_changed", () => true)).toEqual(pushed);
    expect((await framesUntilPing(creator.w, from)).filter((f) => f.type === "role_changed")).toEqual([]);
  });

  it("pushes group_updated to members on both nodes", async () => {
    const creator = await on(n1, uniq("gu_c"));
    const admin = await on(n2, uniq("gu_a"));
    const bob = await on(n1, uniq("gu_b"));
    const g = await groupOf(creator, admin, bob);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    await flowing(g, bob, [creator, admin]);
    const name = uniq("gu_renamed");
    await admin.w.ok({ type: "update_group", group: g, name, desc: "across" });
    const pushed = { type: "group_updated", group: { id: g, name, desc: "across" } };
    expect(await creator.w.push("group_updated", () => true)).toEqual(pushed);
    expect(await bob.w.push("group_updated", () => true)).toEqual(pushed);
  });

  it("kicks a member whose session is on the other node: member_left with by, then not_member, and no more of the group's messages", async () => {
    const creator = await on(n1, uniq("k_c"));
    const kicked = await on(n2, uniq("k_k"));
    const kicked1 = await on(n1, kicked.name, true);
    const stays = await on(n2, uniq("k_s"));
    const g = await groupOf(creator, kicked, stays);
    await flowing(g, creator, [kicked, kicked1, stays]);
    await creator.w.ok({ type: "kick", group: g, user: kicked.id, ban: true });
    const pushed = { type: "member_left", group: g, user: ref(kicked), by: ref(creator) };
    expect(await kicked.w.push("member_left", () => true)).toEqual(pushed);
    expect(await kicked1.w.push("member_left", () => true)).toEqual(pushed);
    expect(await stays.w.push("member_left", () => true)).toEqual(pushed);

    // The push came with the change: from now on the session is not a member.
    expect((await kicked.w.req({ type: "group_send", group: g, text: "let me in" })).code).toBe("not_member");
    expect((await kicked.w.req({ type: "join_group", group: g })).code).toBe("forbidden");
    const from = kicked.w.frames.length;
    const m = await creator.w.ok({ type: "group_send", group: g, text: "after the kick" });
    // Same node, same envelope: once `stays` has it, `kicked` would have had it too.
    await stays.w.push("msg", (f) => f.mid === m.mid);
    expect((await framesUntilPing(kicked.w, from)).filter((f) => f.type === "msg")).toEqual([]);
    expect(kicked.w.pushes("member_left")).toHaveLength(1);
  });

  it("deletes a group with members on both nodes: group_deleted to each, and the group leaves their sessions", async () => {
    const creator = await on(n1, uniq("d_c"));
    const creator2 = await on(n2, creator.name, true);
    const bob = await on(n2, uniq("d_b"));
    const g = await groupOf(creator, bob);
    await flowing(g, creator, [creator2, bob]);
    await creator.w.ok({ type: "delete_group", group: g });
    expect(await bob.w.push("group_deleted", () => true)).toEqual({ type: "group_deleted", group: g });
    expect(await creator2.w.push("group_deleted", () => true)).toEqual({ type: "group_deleted", group: g });
    expect((await bob.w.req({ type: "group_send", group: g, text: "hello?" })).code).toBe("no_such_group");
    expect((await creator2.w.req({ type: "group_send", group: g, text: "hello?" })).code).toBe("no_such_group");
  });

  it("passes the creator role on when the creator leaves, with role_changed to members on both nodes", async () => {
    const creator = await on(n1, uniq("s_c"));
    const admin = await on(n2, uniq("s_a"));
    const bob = await on(n1, uniq("s_b"));
    const g = await groupOf(creator, bob, admin);
    await creator.w.ok({ type: "set_role", group: g, user: admin.id, role: "admin" });
    await flowing(g, creator, [admin, bob]);
    await creator.w.ok({ type: "leave_group", group: g });
    const pushed = { type: "role_changed", group: g, user: ref(admin), role: "creator" };
    expect(await admin.w.push("role_changed", (f) => f.role === "creator")).toEqual(pushed);
    expect(await bob.w.push("role_changed", (f) => f.role === "creator")).toEqual(pushed);
    expect(await admin.w.push("member_left", (f) => f.user.id === creator.id)).toEqual({ type: "member_left", group: g, user: ref(creator) });
    await admin.w.ok({ type: "kick", group: g, user: bob.id });
    expect((await bob.w.push("member_left", (f) => f.user.id === bob.id)).by).toEqual(ref(admin));
  });

  it("applies a kick, a delete and a join made while Redis was down on the other node once Redis is back", async () => {
    const creator = await on(n1, uniq("o_c"));
    const kicked = await on(n2, uniq("o_k"));
    const stays = await on(n2, uniq("o_s"));
    const joiner = await on(n2, uniq("o_j"));
    const g = await groupOf(creator, kicked, stays);
    const doomed = await groupOf(creator, kicked);
    await flowing(g, creator, [kicked, stays]);
    await flowing(doomed, creator, [kicked]);
    const refreshed = inLog(n2, "caches_refreshed");

    await redis.down();
    await waitUntil("n2 sees Redis down", async () => (await n2.health()).body.redis === "down", 15_000, { everyMs: 100 });
    await creator.w.ok({ type: "kick", group: g, user: kicked.id });
    await creator.w.ok({ type: "delete_group", group: doomed });
    // A second session of the joiner, on the node the change is made on.
    const joiner1 = await on(n1, joiner.name, true);
    await joiner1.w.ok({ type: "join_group", group: g });
    // Nothing reached n2: its sessions still act on what they had.
    expect((await kicked.w.req({ type: "history", group: g })).type).toBe("ok");

    await redis.up();
    await waitUntil("n2 re-read its sessions' caches", () => inLog(n2, "caches_refreshed") > refreshed, 20_000, { everyMs: 100 });
    expect((await kicked.w.req({ type: "group_send", group: g, text: "still in?" })).code).toBe("not_member");
    expect((await kicked.w.req({ type: "group_send", group: doomed, text: "still there?" })).code).toBe("no_such_group");
    expect((await joiner.w.req({ type: "group_send", group: g, text: "joined elsewhere" })).type).toBe("ok");

    // And the group's messages reach this node's members as they are now.
    await waitUntil("n1 sees Redis up", async () => (await n1.health()).body.redis === "up", 15_000, { everyMs: 100 });
    const from = kicked.w.frames.length;
    const m = await creator.w.ok({ type: "group_send", group: g, text: "after the outage" });
    await stays.w.push("msg", (f) => f.mid === m.mid);
    await joiner.w.push("msg", (f) => f.mid === m.mid);
    expect((await framesUntilPing(kicked.w, from)).filter((f: Frame) => f.type === "msg")).toEqual([]);
  }, 60_000);
});
