/**
 * Protocol 1.1 consent and safety: friend requests (under both friend
 * policies), blocking, finding people by name; and the privacy a stranger
 * gets under `consent`: an id and a name, no online state, and no fast walk
 * over ids.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, type Person, person, session, sharedServer } from "../support/conformance.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { uniq } from "../support/server.ts";

const open = sharedServer({ node: "open" });
const consent = sharedServer({ node: "consent", friendPolicy: "consent", requestRatePerMinute: 10 });

function err(code: string) {
  return expect.objectContaining({ type: "error", code });
}

describe("friend requests", () => {
  test("a request, its push, the lists and the login count, then accept: friend_added to both sides", async () => {
    const a = await open.fresh("rq");
    const b = await open.fresh("rq");
    const b2 = await session(open.port, b.name);
    open.keep(b2.w);
    expect(await a.w.ok({ type: "friend_request", user: b.id, note: "hi, it's a" })).toEqual(expect.objectContaining({ requested: true }));
    const push = await b.w.push("friend_request");
    expect(push).toEqual({ type: "friend_request", user: { id: a.id, name: a.name }, note: "hi, it's a", ts: expect.any(Number) });
    expect(push).not.toHaveProperty("online");
    const lists = await b.w.ok({ type: "friend_requests" });
    expect(lists.incoming).toEqual([{ user: { id: a.id, name: a.name }, note: "hi, it's a", ts: push.ts }]);
    expect(lists.outgoing).toEqual([]);
    expect((await a.w.ok({ type: "friend_requests" })).outgoing.map((r: { user: { id: number } }) => r.user.id)).toEqual([b.id]);
    const again = await session(open.port, b.name);
    open.keep(again.w);
    expect(again.login.requests).toBe(1);
    // Asking again while open changes nothing.
    const fromB = b.w.frames.length;
    await a.w.ok({ type: "friend_request", user: b.id });
    expect((await framesUntilPing(b.w, fromB)).filter((f) => f.type === "friend_request")).toEqual([]);

    const accepted = await b.w.ok({ type: "accept_friend", user: a.id });
    expect(accepted.friend).toEqual({ id: a.id, name: a.name, online: true });
    expect(await a.w.push("friend_added")).toEqual({ type: "friend_added", friend: { id: b.id, name: b.name, online: true } });
    expect((await b2.w.push("friend_added")).friend.id).toBe(a.id);
    expect((await b.w.ok({ type: "friend_requests" })).incoming).toEqual([]);
    await a.w.ok({ type: "send", to: b.id, text: "friends now" });
  });

  test("a request to someone who asked you completes theirs, as an accept", async () => {
    const a = await open.fresh("rq");
    const b = await open.fresh("rq");
    await a.w.ok({ type: "friend_request", user: b.id });
    const r = await b.w.ok({ type: "friend_request", user: a.id });
    expect(r.friend).toEqual(expect.objectContaining({ id: a.id, name: a.name }));
    expect((await a.w.push("friend_added")).friend.id).toBe(b.id);
  });

  test("decline tells nobody; accept and decline without a request are no_such_request", async () => {
    const a = await open.fresh("rq");
    const b = await open.fresh("rq");
    await a.w.ok({ type: "friend_request", user: b.id });
    const fromA = a.w.frames.length;
    await b.w.ok({ type: "decline_friend", user: a.id });
    expect((await framesUntilPing(a.w, fromA)).filter((f) => f.type !== "ok")).toEqual([]);
    expect(await b.w.req({ type: "accept_friend", user: a.id })).toEqual(err("no_such_request"));
    expect(await b.w.req({ type: "decline_friend", user: a.id })).toEqual(err("no_such_request"));
    expect(await b.w.req({ type: "accept_friend", user: b.id })).toEqual(err("invalid"));
  });

  test("errors in order: invalid, no_such_user, already_friends, blocked", async () => {
    const a = await open.fresh("rq");
    const b = await open.fresh("rq");
    const c = await open.fresh("rq");
    await befriend(a, b);
    expect(await a.w.req({ type: "friend_request", user: a.id })).toEqual(err("invalid"));
    expect(await a.w.req({ type: "friend_request", user: 999_999_999 })).toEqual(err("no_such_user"));
    expect(await a.w.req({ type: "friend_request", user: b.id })).toEqual(err("already_friends"));
    await c.w.ok({ type: "block", user: a.id });
    expect(await a.w.req({ type: "friend_request", user: c.id })).toEqual(err("blocked"));
    expect(await c.w.req({ type: "friend_request", user: a.id })).toEqual(err("blocked"));
    expect(await a.w.req({ type: "add_friend", user: c.id })).toEqual(err("blocked"));
  });
});

describe("block", () => {
  test("ends a friendship with friend_removed pushes and drops open requests; unblock lets them ask again", async () => {
    const a = await open.fresh("bl");
    const b = await open.fresh("bl");
    await befriend(a, b);
    await b.w.ok({ type: "block", user: a.id });
    expect(await a.w.push("friend_removed")).toEqual({ type: "friend_removed", user: b.id });
    expect(await a.w.req({ type: "send", to: b.id, text: "x" })).toEqual(err("not_friend"));
    expect((await b.w.ok({ type: "blocked" })).blocked).toEqual([{ id: a.id, name: a.name }]);
    await b.w.ok({ type: "block", user: a.id }); // twice: ok
    await b.w.ok({ type: "unblock", user: a.id });
    await b.w.ok({ type: "unblock", user: a.id }); // not blocked: ok
    expect((await b.w.ok({ type: "blocked" })).blocked).toEqual([]);
    expect(await a.w.ok({ type: "friend_request", user: b.id })).toEqual(expect.objectContaining({ requested: true }));
    expect(await b.w.req({ type: "block", user: 999_999_999 })).toEqual(err("no_such_user"));
    expect(await b.w.req({ type: "block", user: b.id })).toEqual(err("invalid"));
  });

  test("does not filter group messages", async () => {
    const a = await open.fresh("bl");
    const b = await open.fresh("bl");
    const g = (await a.w.ok({ type: "create_group", name: uniq("blg") })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await b.w.ok({ type: "block", user: a.id });
    const m = await a.w.ok({ type: "group_send", group: g, text: "still in the group" });
    await b.w.push("msg", (f) => f.mid === m.mid);
  });
});

describe("find_user", () => {
  test("finds by the exact name only", async () => {
    const a = await open.fresh("fu");
    const b = await open.fresh("fu");
    expect((await a.w.ok({ type: "find_user", name: b.name })).user).toEqual({ id: b.id, name: b.name });
    expect(await a.w.req({ type: "find_user", name: `${b.name} ` })).toEqual(err("no_such_user"));
    expect(await a.w.req({ type: "find_user", name: b.name.toUpperCase() })).toEqual(err("no_such_user"));
  });
});

describe("the consent policy", () => {
  test("hello lists consent, and add_friend only asks: no friend, no online state until accepted", async () => {
    const w = await consent.conn();
    expect(w.frames[0]?.features).toContain("consent");
    const a = await consent.fresh("cs");
    const b = await consent.fresh("cs");
    const r = await a.w.ok({ type: "add_friend", user: b.id });
    expect(r).toEqual(expect.objectContaining({ requested: true }));
    expect(r).not.toHaveProperty("friend");
    expect(await b.w.push("friend_request")).not.toHaveProperty("online");
    expect(await a.w.req({ type: "send", to: b.id, text: "not yet" })).toEqual(err("not_friend"));
    expect((await b.w.ok({ type: "accept_friend", user: a.id })).friend).toEqual({ id: a.id, name: a.name, online: true });
  });

  test("a stranger walking ids learns no online state, and a walk faster than the request rate gets rate_limited", async () => {
    const targets: Person[] = [];
    for (let i = 0; i < 12; i++) targets.push(await consent.fresh("walked"));
    const walker = await person(consent.port, uniq("walker"));
    consent.keep(walker.w);
    const replies = [];
    for (const t of targets) replies.push(await walker.w.req({ type: "add_friend", user: t.id }));
    for (const r of replies) expect(JSON.stringify(r)).not.toContain("online");
    expect(replies.slice(0, 10).every((r) => r.type === "ok" && r.requested === true)).toBe(true);
    expect(replies.slice(10)).toEqual([err("rate_limited"), err("rate_limited")]);
    for (const t of targets.slice(0, 10)) expect(JSON.stringify(await t.w.push("friend_request"))).not.toContain("online");
  });
});

describe("requests and blocks across two nodes", () => {
  let n1: NodeProcess;
  let n2: NodeProcess;
  beforeAll(async () => {
    const mysqlUrl = await freshDatabase();
    [n1, n2] = await Promise.all([
      spawnNode({ node: "k1", mysqlUrl, redisUrl: redisUrl(), args: ["--friend-policy", "consent"] }),
      spawnNode({ node: "k2", mysqlUrl, redisUrl: redisUrl(), args: ["--friend-policy", "consent"] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([n1?.kill(), n2?.kill()]);
  });

  test("the request push, the accept and a block reach the other node, and the block takes effect there at once", async () => {
    const a = await person(n1.port, uniq("k"));
    const b = await person(n2.port, uniq("k"));
    await a.w.ok({ type: "friend_request", user: b.id, note: "across" });
    expect((await b.w.push("friend_request")).note).toBe("across");
    await b.w.ok({ type: "accept_friend", user: a.id });
    expect((await a.w.push("friend_added")).friend.id).toBe(b.id);
    await a.w.ok({ type: "send", to: b.id, text: "warm" });
    await b.w.ok({ type: "send", to: a.id, text: "warm too" });
    await a.w.ok({ type: "block", user: b.id });
    expect(await b.w.push("friend_removed")).toEqual({ type: "friend_removed", user: a.id });
    expect(await b.w.req({ type: "send", to: a.id, text: "?" })).toEqual(err("not_friend"));
    expect(await b.w.req({ type: "friend_request", user: a.id })).toEqual(err("blocked"));
    a.w.close();
    b.w.close();
  });
});
