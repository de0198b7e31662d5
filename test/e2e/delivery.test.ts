/**
 * Delivery: pending messages, ack and redelivery across logins; several
 * sessions of one user; presence, friend_added, member_joined and
 * member_left; history paging; mid order.
 */
import { describe, expect, test } from "bun:test";
import { befriend, type Frame, framesUntilPing, PASSWORD, type Person, person, register, session, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";
import type { Wire } from "../support/wire.ts";

const srv = sharedServer();
const fresh = (prefix = "d") => srv.fresh(prefix);

async function again(p: { name: string }): Promise<Person> {
  const s = await session(srv.port, p.name);
  srv.keep(s.w);
  return s;
}

/** A registered user who has never logged in. */
async function offline(prefix = "off"): Promise<{ id: number; name: string }> {
  const name = uniq(prefix);
  return { id: await register(srv.port, name), name };
}

/** Logs in on a new connection; returns it, the ok, and the ok's index among the frames. */
async function loginAt(name: string) {
  const w = await srv.ts.connect();
  srv.keep(w);
  const ok = await w.ok({ type: "login", name, password: PASSWORD });
  return { w, ok, at: w.frames.indexOf(ok) };
}

const msgs = (w: Wire, from = 0) => w.frames.slice(from).filter((f) => f.type === "msg");
const mids = (frames: Frame[]) => frames.map((f) => f.mid);

/** Sends `n` texts from `from` to `to`, pipelined; returns the oks in order. */
async function sendMany(from: Person, to: number, n: number, prefix = "m"): Promise<Frame[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => from.w.ok({ type: "send", to, text: `${prefix}${i}` })));
}

function ascending(xs: number[]) {
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) <= (xs[i - 1] as number)) return false;
  return true;
}

function nonDecreasing(xs: number[]) {
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) < (xs[i - 1] as number)) return false;
  return true;
}

describe("pending messages", () => {
  test("messages sent to an offline user come at its next login, oldest first, right after the login ok", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const sent = await sendMany(a, b.id, 3);
    const { w, ok, at } = await loginAt(b.name);
    expect(ok.pending).toBe(3);
    await w.push("msg", (f) => f.mid === sent[2]?.mid);
    expect(w.frames.slice(at + 1, at + 4)).toEqual(
      sent.map((s, i) => ({ type: "msg", mid: s.mid, from: a.id, name: a.name, to: b.id, text: `m${i}`, ts: s.ts })),
    );
    expect(await framesUntilPing(w, at + 4)).toEqual([]);
  });

  test("more pending messages than one replay page all come, in order", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const sent = await sendMany(a, b.id, 520);
    const { w, ok, at } = await loginAt(b.name);
    expect(ok.pending).toBe(520);
    await w.push("msg", (f) => f.mid === sent[519]?.mid);
    expect(mids(w.frames.slice(at + 1))).toEqual(mids(sent));
  });

  test("pending messages come before live pushes: a login while new messages arrive sees mids never go down", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const first = await sendMany(a, b.id, 30, "old");
    const w = await srv.ts.connect();
    srv.keep(w);
    const login = w.ok({ type: "login", name: b.name, password: PASSWORD });
    const later = sendMany(a, b.id, 30, "new");
    const ok = await login;
    const at = w.frames.indexOf(ok);
    const all = [...first, ...(await later)];
    const last = all[all.length - 1]?.mid;
    await w.push("msg", (f) => f.mid === last);
    const got = w.frames.slice(at + 1);
    // Nothing but messages: no push came between the ok and the replay.
    expect(got.every((f) => f.type === "msg")).toBe(true);
    expect(mids(got.slice(0, 30))).toEqual(mids(first));
    expect(nonDecreasing(mids(got))).toBe(true);
    expect([...new Set(mids(got))]).toEqual(mids(all));
    // And nothing reached this connection before its login ok.
    expect(w.frames.slice(0, at).filter((f) => f.type === "msg")).toEqual([]);
  });

  test("acked messages do not come again; unacked ones do, at every login", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const sent = await sendMany(a, b.id, 3);
    const one = await loginAt(b.name);
    await one.w.push("msg", (f) => f.mid === sent[2]?.mid);
    expect(await one.w.req({ type: "ack", mids: [sent[0]?.mid, sent[1]?.mid] })).toEqual(expect.objectContaining({ acked: 2 }));
    one.w.close();
    const two = await loginAt(b.name);
    expect(two.ok.pending).toBe(1);
    await two.w.push("msg", (f) => f.mid === sent[2]?.mid);
    expect(await framesUntilPing(two.w, two.at + 1)).toEqual([expect.objectContaining({ type: "msg", mid: sent[2]?.mid, text: "m2" })]);
    two.w.close();
    const three = await loginAt(b.name);
    expect(three.ok.pending).toBe(1);
    expect(mids(await framesUntilPing(three.w, three.at + 1))).toEqual([sent[2]?.mid]);
    expect((await three.w.ok({ type: "ack", mids: [sent[2]?.mid] })).acked).toBe(1);
    three.w.close();
    const four = await loginAt(b.name);
    expect(four.ok.pending).toBe(0);
    expect(await framesUntilPing(four.w, four.at + 1)).toEqual([]);
  });

  test("an ack of the latest message alone leaves the earlier unacked ones pending, until they are acked too", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const sent = await sendMany(a, b.id, 3);
    const one = await loginAt(b.name);
    await one.w.push("msg", (f) => f.mid === sent[2]?.mid);
    expect((await one.w.ok({ type: "ack", mids: [sent[2]?.mid] })).acked).toBe(1);
    one.w.close();
    const two = await loginAt(b.name);
    expect(two.ok.pending).toBe(2);
    expect(mids(await framesUntilPing(two.w, two.at + 1))).toEqual([sent[0]?.mid, sent[1]?.mid]);
    expect((await two.w.ok({ type: "ack", mids: [sent[1]?.mid] })).acked).toBe(1);
    two.w.close();
    const three = await loginAt(b.name);
    expect(three.ok.pending).toBe(1);
    expect(mids(await framesUntilPing(three.w, three.at + 1))).toEqual([sent[0]?.mid]);
    expect((await three.w.ok({ type: "ack", mids: [sent[0]?.mid] })).acked).toBe(1);
    const next = await a.w.ok({ type: "send", to: b.id, text: "after" });
    await three.w.push("msg", (f) => f.mid === next.mid);
    expect((await three.w.ok({ type: "ack", mids: [next.mid] })).acked).toBe(1);
    three.w.close();
    const four = await loginAt(b.name);
    expect(four.ok.pending).toBe(0);
  });

  test("an ack of the older of two messages pushed delivers that one only; the newer stays pending", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const first = await a.w.ok({ type: "send", to: b.id, text: "first" });
    const second = await a.w.ok({ type: "send", to: b.id, text: "second" });
    await b.w.push("msg", (f) => f.mid === second.mid);
    expect((await b.w.ok({ type: "ack", mids: [first.mid] })).acked).toBe(1);
    expect((await b.w.ok({ type: "ack", mids: [first.mid] })).acked).toBe(0);
    b.w.close();
    const again = await loginAt(b.name);
    expect(again.ok.pending).toBe(1);
    expect(mids(await framesUntilPing(again.w, again.at + 1))).toEqual([second.mid]);
    expect((await again.w.ok({ type: "ack", mids: [second.mid] })).acked).toBe(1);
  });

  test("a message pushed live but not acked comes again at the next login", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "live" });
    await b.w.push("msg", (f) => f.mid === m.mid);
    await b.w.ok({ type: "logout" });
    const ok = await b.w.ok({ type: "login", name: b.name, password: PASSWORD });
    expect(ok.pending).toBe(1);
    const at = b.w.frames.indexOf(ok);
    expect(await framesUntilPing(b.w, at + 1)).toEqual([{ type: "msg", mid: m.mid, from: a.id, name: a.name, to: b.id, text: "live", ts: m.ts }]);
  });

  test("a second login replays what is pending even while the first session is online", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "x" });
    await b.w.push("msg", (f) => f.mid === m.mid);
    const b2 = await loginAt(b.name);
    expect(b2.ok.pending).toBe(1);
    expect(mids(await framesUntilPing(b2.w, b2.at + 1))).toEqual([m.mid]);
  });

  test("an ack counts only messages still pending: the same mid acked by another session of the user counts zero", async () => {
    const a = await fresh();
    const b1 = await fresh();
    const b2 = await again(b1);
    await befriend(a, b1);
    const m = await a.w.ok({ type: "send", to: b1.id, text: "x" });
    await Promise.all([b1.w.push("msg", (f) => f.mid === m.mid), b2.w.push("msg", (f) => f.mid === m.mid)]);
    expect((await b1.w.ok({ type: "ack", mids: [m.mid] })).acked).toBe(1);
    expect((await b2.w.ok({ type: "ack", mids: [m.mid] })).acked).toBe(0);
  });

  test("an ack pipelined with other requests is answered in request order, and the send after it is not held back", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "to ack" });
    await b.w.push("msg", (f) => f.mid === m.mid);
    const from = b.w.frames.length;
    b.w.write(
      [
        { type: "ack", id: "ack", mids: [m.mid] },
        { type: "send", id: "send", to: a.id, text: "right after the ack" },
        { type: "ping", id: "ping" },
        { type: "ack", id: "ack2", mids: [m.mid] },
        { type: "ping", id: "ping2" },
      ]
        .map((f) => JSON.stringify(f) + "\n")
        .join(""),
    );
    await b.w.next((f) => f.re === "ping2", 5000, from);
    const replies = b.w.frames.slice(from).filter((f) => f.type === "ok" || f.type === "error");
    expect(replies.map((r) => r.re)).toEqual(["ack", "send", "ping", "ack2", "ping2"]);
    expect(replies[0]!.acked).toBe(1);
    expect(replies[3]!.acked).toBe(0);
    expect(replies[1]!.type).toBe("ok");
  });

  test("a user cannot ack another user's pending message", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "mine" });
    expect((await a.w.ok({ type: "ack", mids: [m.mid] })).acked).toBe(0);
    expect((await loginAt(b.name)).ok.pending).toBe(1);
  });

  test("the sender's own messages are never pending for the sender", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    await sendMany(a, b.id, 2);
    const g = (await a.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await a.w.ok({ type: "group_send", group: g, text: "g" });
    const a2 = await loginAt(a.name);
    expect(a2.ok.pending).toBe(0);
    expect(await framesUntilPing(a2.w, a2.at + 1)).toEqual([]);
  });

  test("a group message is pending for every member but its sender", async () => {
    const a = await fresh();
    const c = await fresh();
    const g = (await a.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await c.w.ok({ type: "join_group", group: g });
    await c.w.ok({ type: "logout" });
    const m = await a.w.ok({ type: "group_send", group: g, text: "while away" });
    const ok = await c.w.ok({ type: "login", name: c.name, password: PASSWORD });
    expect(ok.pending).toBe(1);
    expect(await framesUntilPing(c.w, c.w.frames.indexOf(ok) + 1)).toEqual([
      { type: "msg", mid: m.mid, from: a.id, name: a.name, group: g, text: "while away", ts: m.ts },
    ]);
  });
});

describe("several sessions of one user", () => {
  test("every session of the recipient gets each message", async () => {
    const a = await fresh();
    const b1 = await fresh();
    const b2 = await again(b1);
    const b3 = await again(b1);
    await befriend(a, b1);
    const m = await a.w.ok({ type: "send", to: b1.id, text: "to all of you" });
    for (const b of [b1, b2, b3]) expect((await b.w.push("msg", (f) => f.mid === m.mid)).text).toBe("to all of you");
  });

  test("the sender's other sessions get its own messages; the sending session gets only the ok", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const b = await fresh();
    await befriend(a1, b);
    const from = a1.w.frames.length;
    const m = await a1.w.ok({ type: "send", to: b.id, text: "echo" });
    expect(await a2.w.push("msg", (f) => f.mid === m.mid)).toEqual({ type: "msg", mid: m.mid, from: a1.id, name: a1.name, to: b.id, text: "echo", ts: m.ts });
    await b.w.push("msg", (f) => f.mid === m.mid);
    expect(msgs(a1.w, from)).toEqual([]);
    expect((await framesUntilPing(a1.w, from)).filter((f) => f.type === "msg")).toEqual([]);
  });

  test("a group message reaches the sender's other sessions and every member, not the sending session", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const c = await fresh();
    const g = (await a1.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await c.w.ok({ type: "join_group", group: g });
    const from = a1.w.frames.length;
    const m = await a1.w.ok({ type: "group_send", group: g, text: "hi group" });
    const expected = { type: "msg", mid: m.mid, from: a1.id, name: a1.name, group: g, text: "hi group", ts: m.ts };
    expect(await a2.w.push("msg", (f) => f.mid === m.mid)).toEqual(expected);
    expect(await c.w.push("msg", (f) => f.mid === m.mid)).toEqual(expected);
    expect((await framesUntilPing(a1.w, from)).filter((f) => f.type === "msg")).toEqual([]);
  });

  test("a session of a user who created a group on another connection gets that group's messages", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const c = await fresh();
    const g = (await a1.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await c.w.ok({ type: "join_group", group: g });
    const m = await c.w.ok({ type: "group_send", group: g, text: "to creator" });
    await a1.w.push("msg", (f) => f.mid === m.mid);
    await a2.w.push("msg", (f) => f.mid === m.mid);
    expect((await a2.w.ok({ type: "groups" })).groups.map((x: Frame) => x.id)).toEqual([g]);
  });
});

describe("presence", () => {
  test("friends get presence online at a user's first session only, and offline at its last only", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    let from = a.w.frames.length;
    const b1 = await loginAt(b.name);
    expect(await a.w.push("presence", () => true, from)).toEqual({ type: "presence", user: b.id, online: true });

    from = a.w.frames.length;
    const b2 = await loginAt(b.name);
    expect((await framesUntilPing(a.w, from)).filter((f) => f.type === "presence")).toEqual([]);

    // The first session ends (its logout's ok comes after any push it caused); b is still online.
    await b1.w.ok({ type: "logout" });
    expect((await framesUntilPing(a.w, from)).filter((f) => f.type === "presence")).toEqual([]);
    expect((await a.w.ok({ type: "friends" })).friends).toEqual([{ id: b.id, name: b.name, online: true }]);

    // The last one goes away with its socket.
    b2.w.close();
    expect(await a.w.push("presence", () => true, from)).toEqual({ type: "presence", user: b.id, online: false });
    expect((await framesUntilPing(a.w, from)).filter((f) => f.type === "presence")).toHaveLength(1);
    expect((await a.w.ok({ type: "friends" })).friends).toEqual([{ id: b.id, name: b.name, online: false }]);
  });

  test("every session of a friend gets presence, and people who are not friends get none", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const stranger = await fresh();
    const b = await offline();
    await befriend(a1, b);
    const from = [a1.w.frames.length, a2.w.frames.length, stranger.w.frames.length] as const;
    const b1 = await loginAt(b.name);
    await a1.w.push("presence", (f) => f.user === b.id && f.online, from[0]);
    await a2.w.push("presence", (f) => f.user === b.id && f.online, from[1]);
    await b1.w.ok({ type: "logout" });
    await a1.w.push("presence", (f) => f.user === b.id && !f.online, from[0]);
    await a2.w.push("presence", (f) => f.user === b.id && !f.online, from[1]);
    expect((await framesUntilPing(stranger.w, from[2])).filter((f) => f.type === "presence")).toEqual([]);
  });

  test("presence follows a friendship made while both users are online, from whichever session ends last", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const b = await fresh();
    // b adds a: a's sessions, a2 among them, learn of b only through this.
    await befriend(b, a1);
    const from = b.w.frames.length;
    await a1.w.ok({ type: "logout" });
    a2.w.close();
    expect(await b.w.push("presence", () => true, from)).toEqual({ type: "presence", user: a1.id, online: false });
    const back = await loginAt(a1.name);
    expect(await b.w.push("presence", (f) => f.online, from)).toEqual({ type: "presence", user: a1.id, online: true });
    // And the other direction: b's end reaches a's new session.
    b.w.close();
    expect(await back.w.push("presence", () => true, back.at)).toEqual({ type: "presence", user: b.id, online: false });
  });
});

describe("friend_added", () => {
  test("every session of the added user gets friend_added with the adder online; the adder gets no push", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const b1 = await fresh();
    const b2 = await again(b1);
    const from = [a1.w.frames.length, a2.w.frames.length];
    await befriend(a1, b1);
    const expected = { type: "friend_added", friend: { id: a1.id, name: a1.name, online: true } };
    expect(await b1.w.push("friend_added")).toEqual(expected);
    expect(await b2.w.push("friend_added")).toEqual(expected);
    expect((await framesUntilPing(a1.w, from[0] as number)).filter((f) => f.type === "friend_added")).toEqual([]);
    expect((await framesUntilPing(a2.w, from[1] as number)).filter((f) => f.type === "friend_added")).toEqual([]);
  });

  test("friendship is mutual and usable at once from every session of both users", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const b1 = await fresh();
    const b2 = await again(b1);
    await befriend(a1, b1);
    expect((await b2.w.ok({ type: "friends" })).friends).toEqual([{ id: a1.id, name: a1.name, online: true }]);
    const x = await a2.w.ok({ type: "send", to: b1.id, text: "from a2" });
    const y = await b2.w.ok({ type: "send", to: a1.id, text: "from b2" });
    await b1.w.push("msg", (f) => f.mid === x.mid);
    await a1.w.push("msg", (f) => f.mid === y.mid);
  });

  test("a user added while offline sees the friend at its next login, and no friend_added", async () => {
    const a = await fresh();
    const b = await offline();
    await befriend(a, b);
    const { w, ok, at } = await loginAt(b.name);
    expect(ok.friends).toEqual([{ id: a.id, name: a.name, online: true }]);
    expect(await framesUntilPing(w, at + 1)).toEqual([]);
  });
});

describe("member_joined and member_left", () => {
  async function scene() {
    const creator = await fresh("cr");
    const member = await fresh("mb");
    const u1 = await fresh("jn");
    const u2 = await again(u1);
    const outsider = await fresh("out");
    const g = (await creator.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await member.w.ok({ type: "join_group", group: g });
    return { creator, member, u1, u2, outsider, g };
  }

  test("member_joined goes to the other members and the joiner's other sessions, not to the joining session or outsiders", async () => {
    const { creator, member, u1, u2, outsider, g } = await scene();
    const from = [creator, member, u1, u2, outsider].map((p) => p.w.frames.length);
    await u1.w.ok({ type: "join_group", group: g });
    const expected = { type: "member_joined", group: g, user: { id: u1.id, name: u1.name } };
    expect(await creator.w.push("member_joined", () => true, from[0])).toEqual(expected);
    expect(await member.w.push("member_joined", () => true, from[1])).toEqual(expected);
    expect(await u2.w.push("member_joined", () => true, from[3])).toEqual(expected);
    expect((await framesUntilPing(u1.w, from[2] as number)).filter((f) => f.type === "member_joined")).toEqual([]);
    expect((await framesUntilPing(outsider.w, from[4] as number)).filter((f) => f.type === "member_joined")).toEqual([]);
  });

  test("after a join, every session of the joiner gets the group's messages", async () => {
    const { creator, u1, u2, g } = await scene();
    await u1.w.ok({ type: "join_group", group: g });
    const m = await creator.w.ok({ type: "group_send", group: g, text: "welcome" });
    await u1.w.push("msg", (f) => f.mid === m.mid);
    await u2.w.push("msg", (f) => f.mid === m.mid);
    // And the other session may send to the group at once.
    expect((await u2.w.req({ type: "group_send", group: g, text: "thanks" })).type).toBe("ok");
  });

  test("member_left goes to the remaining members and the leaver's other sessions, which stop getting the group's messages", async () => {
    const { creator, member, u1, u2, outsider, g } = await scene();
    await u1.w.ok({ type: "join_group", group: g });
    const from = [creator, member, u1, u2, outsider].map((p) => p.w.frames.length);
    await u1.w.ok({ type: "leave_group", group: g });
    const expected = { type: "member_left", group: g, user: { id: u1.id, name: u1.name } };
    expect(await creator.w.push("member_left", () => true, from[0])).toEqual(expected);
    expect(await member.w.push("member_left", () => true, from[1])).toEqual(expected);
    expect(await u2.w.push("member_left", () => true, from[3])).toEqual(expected);
    expect((await framesUntilPing(u1.w, from[2] as number)).filter((f) => f.type === "member_left")).toEqual([]);
    expect((await framesUntilPing(outsider.w, from[4] as number)).filter((f) => f.type === "member_left")).toEqual([]);

    const m = await creator.w.ok({ type: "group_send", group: g, text: "after you left" });
    await member.w.push("msg", (f) => f.mid === m.mid);
    expect((await framesUntilPing(u1.w, from[2] as number)).filter((f) => f.type === "msg")).toEqual([]);
    expect((await framesUntilPing(u2.w, from[3] as number)).filter((f) => f.type === "msg")).toEqual([]);
    expect((await u2.w.req({ type: "group_send", group: g, text: "x" })).code).toBe("not_member");
    expect((await u2.w.req({ type: "history", group: g })).code).toBe("not_member");
  });

  test("a member who left gets no pending copy of later group messages", async () => {
    const { creator, u1, g } = await scene();
    await u1.w.ok({ type: "join_group", group: g });
    await u1.w.ok({ type: "leave_group", group: g });
    await creator.w.ok({ type: "group_send", group: g, text: "not for you" });
    expect((await loginAt(u1.name)).ok.pending).toBe(0);
  });
});

describe("history", () => {
  test("pages backwards with before and limit, each page ascending, across both directions of a conversation", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const sent: Frame[] = [];
    for (let i = 0; i < 7; i++) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const r = await from.w.ok({ type: "send", to: to.id, text: `t${i}` });
      sent.push({ mid: r.mid, from: from.id, name: from.name, to: to.id, text: `t${i}`, ts: r.ts });
    }
    const page1 = (await a.w.ok({ type: "history", with: b.id, limit: 3 })).messages;
    expect(page1).toEqual(sent.slice(4, 7));
    const page2 = (await a.w.ok({ type: "history", with: b.id, limit: 3, before: page1[0].mid })).messages;
    expect(page2).toEqual(sent.slice(1, 4));
    const page3 = (await a.w.ok({ type: "history", with: b.id, limit: 3, before: page2[0].mid })).messages;
    expect(page3).toEqual(sent.slice(0, 1));
    expect((await a.w.ok({ type: "history", with: b.id, before: page3[0].mid })).messages).toEqual([]);
    // The other side sees the same conversation.
    expect((await b.w.ok({ type: "history", with: a.id })).messages).toEqual(sent);
    // before is exclusive, and need not be a mid of this conversation.
    expect((await b.w.ok({ type: "history", with: a.id, before: sent[3]?.mid + 1, limit: 2 })).messages).toEqual(sent.slice(2, 4));
  });

  test("a conversation's history holds only that conversation", async () => {
    const a = await fresh();
    const b = await fresh();
    const c = await fresh();
    await befriend(a, b);
    await befriend(a, c);
    await befriend(b, c);
    const ab = await a.w.ok({ type: "send", to: b.id, text: "ab" });
    await a.w.ok({ type: "send", to: c.id, text: "ac" });
    await b.w.ok({ type: "send", to: c.id, text: "bc" });
    const g = (await a.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await a.w.ok({ type: "group_send", group: g, text: "g" });
    expect(mids((await a.w.ok({ type: "history", with: b.id })).messages)).toEqual([ab.mid]);
  });

  test("the default limit is 50 and the largest is 100, the most recent messages each time", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const sent = mids(await sendMany(a, b.id, 105));
    expect(mids((await a.w.ok({ type: "history", with: b.id })).messages)).toEqual(sent.slice(55));
    expect(mids((await b.w.ok({ type: "history", with: a.id, limit: 100 })).messages)).toEqual(sent.slice(5));
    expect(mids((await b.w.ok({ type: "history", with: a.id, limit: 1 })).messages)).toEqual(sent.slice(104));
  });

  test("a group's history holds every member's messages, pages the same way, and is the same for every member", async () => {
    const a = await fresh();
    const b = await fresh();
    const g = (await a.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    const sent: Frame[] = [];
    for (let i = 0; i < 5; i++) {
      const p = i % 2 === 0 ? a : b;
      const r = await p.w.ok({ type: "group_send", group: g, text: `g${i}` });
      sent.push({ mid: r.mid, from: p.id, name: p.name, group: g, text: `g${i}`, ts: r.ts });
    }
    expect((await a.w.ok({ type: "history", group: g })).messages).toEqual(sent);
    expect((await b.w.ok({ type: "history", group: g })).messages).toEqual(sent);
    const last2 = (await b.w.ok({ type: "history", group: g, limit: 2 })).messages;
    expect(last2).toEqual(sent.slice(3));
    expect((await b.w.ok({ type: "history", group: g, limit: 2, before: last2[0].mid })).messages).toEqual(sent.slice(1, 3));
  });
});

describe("mid order", () => {
  test("mids increase in the order the server accepted the messages, and the recipient sees them ascending", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const from = b.w.frames.length;
    const sent = mids(await sendMany(a, b.id, 100));
    expect(ascending(sent)).toBe(true);
    await b.w.push("msg", (f) => f.mid === sent[99], from);
    expect(mids(msgs(b.w, from))).toEqual(sent);
  });

  test("with both users and several sessions writing into one conversation, every connection sees mids ascending", async () => {
    const a1 = await fresh();
    const a2 = await again(a1);
    const b1 = await fresh();
    const b2 = await again(b1);
    await befriend(a1, b1);
    const from = [a1, a2, b1, b2].map((p) => p.w.frames.length);
    const oks = await Promise.all([sendMany(a1, b1.id, 40, "a1-"), sendMany(a2, b1.id, 40, "a2-"), sendMany(b1, a1.id, 40, "b1-"), sendMany(b2, a1.id, 40, "b2-")]);
    const all = oks.flat().map((o) => o.mid as number);
    expect(new Set(all).size).toBe(160);
    for (const [i, p] of [a1, a2, b1, b2].entries()) {
      // Each connection gets every message but the ones it sent itself.
      const own = new Set(mids(oks[i] as Frame[]));
      const want = all.filter((m) => !own.has(m)).sort((x, y) => x - y);
      // Every push was written before its sender's ok, so before this ping's reply.
      const got = mids((await framesUntilPing(p.w, from[i] as number)).filter((f) => f.type === "msg"));
      expect(ascending(got)).toBe(true);
      expect(got).toEqual(want);
    }
  });
});
