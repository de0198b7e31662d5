/**
 * Protocol 1.1 on one node: the conversation list with unread counts, read
 * positions and receipts, typing, edit and delete, unfriending.
 */
import { describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, type Person, session, sharedServer } from "../support/conformance.ts";
import { startTestServer, uniq } from "../support/server.ts";

const srv = sharedServer({ node: "conv" });
const fresh = (prefix = "cv") => srv.fresh(prefix);

function err(code: string) {
  return expect.objectContaining({ type: "error", code });
}

async function friends(): Promise<[Person, Person]> {
  const a = await fresh();
  const b = await fresh();
  await befriend(a, b);
  return [a, b];
}

async function groupOf(owner: Person, ...members: Person[]): Promise<number> {
  const g = (await owner.w.ok({ type: "create_group", name: uniq("cvg") })).group.id as number;
  for (const m of members) await m.w.ok({ type: "join_group", group: g });
  return g;
}

describe("hello", () => {
  test("lists the conversation extensions", async () => {
    const w = await srv.conn();
    for (const f of ["cid", "conversations", "read", "typing", "edit", "delete", "unfriend"]) expect(w.frames[0]?.features).toContain(f);
  });
});

describe("conversations", () => {
  test("lists conversations with a message, newest last message first, with unread counts and read positions", async () => {
    const [a, b] = await friends();
    const c = await fresh();
    await befriend(a, c); // no message with c: not listed
    const g = await groupOf(b, a);
    const m1 = await b.w.ok({ type: "send", to: a.id, text: "one" });
    const m2 = await b.w.ok({ type: "send", to: a.id, text: "two" });
    const g1 = await b.w.ok({ type: "group_send", group: g, text: "to the group" });
    const r = await a.w.ok({ type: "conversations" });
    expect(r.conversations).toEqual([
      { group: g, name: expect.any(String), last: expect.objectContaining({ mid: g1.mid, text: "to the group", group: g }), unread: 1, read: expect.any(Number) },
      { with: b.id, name: b.name, last: expect.objectContaining({ mid: m2.mid, text: "two", from: b.id }), unread: 2, read: 0, peer_read: 0 },
    ]);
    expect(m1.mid).toBeLessThan(m2.mid);
    // The sender's own messages are never unread for it.
    const mine = await b.w.ok({ type: "conversations" });
    expect(mine.conversations.find((x: { with?: number }) => x.with === a.id).unread).toBe(0);
  });

  test("pages with before and limit", async () => {
    const [a, b] = await friends();
    const c = await fresh();
    await befriend(a, c);
    const x = await b.w.ok({ type: "send", to: a.id, text: "older" });
    const y = await c.w.ok({ type: "send", to: a.id, text: "newer" });
    const first = await a.w.ok({ type: "conversations", limit: 1 });
    expect(first.conversations.map((e: { last: { mid: number } }) => e.last.mid)).toEqual([y.mid]);
    const next = await a.w.ok({ type: "conversations", limit: 1, before: y.mid });
    expect(next.conversations.map((e: { last: { mid: number } }) => e.last.mid)).toEqual([x.mid]);
    expect((await a.w.ok({ type: "conversations", before: x.mid })).conversations).toEqual([]);
    expect(await a.w.req({ type: "conversations", limit: 0 })).toEqual(err("bad_frame"));
  });

  test("a group member's read position starts at the group's latest message when they join", async () => {
    const a = await fresh();
    const b = await fresh();
    const g = await groupOf(a);
    await a.w.ok({ type: "group_send", group: g, text: "before b" });
    const last = await a.w.ok({ type: "group_send", group: g, text: "also before b" });
    await b.w.ok({ type: "join_group", group: g });
    const entry = (await b.w.ok({ type: "conversations" })).conversations.find((e: { group?: number }) => e.group === g);
    expect(entry).toEqual(expect.objectContaining({ unread: 0, read: last.mid }));
  });

  test("the login reply's unread is the sum over conversations", async () => {
    const [a, b] = await friends();
    const g = await groupOf(b, a);
    await b.w.ok({ type: "send", to: a.id, text: "1" });
    await b.w.ok({ type: "send", to: a.id, text: "2" });
    await b.w.ok({ type: "group_send", group: g, text: "3" });
    const again = await session(srv.port, a.name);
    srv.keep(again.w);
    expect(again.login.unread).toBe(3);
  });
});

describe("read", () => {
  test("moves forward to the largest mid of the conversation at most the one given, never back", async () => {
    const [a, b] = await friends();
    const m1 = await b.w.ok({ type: "send", to: a.id, text: "1" });
    const m2 = await b.w.ok({ type: "send", to: a.id, text: "2" });
    expect(await a.w.ok({ type: "read", with: b.id, mid: m2.mid + 1000 })).toEqual(expect.objectContaining({ read: m2.mid }));
    expect(await a.w.ok({ type: "read", with: b.id, mid: m1.mid })).toEqual(expect.objectContaining({ read: m2.mid }));
    const entry = (await a.w.ok({ type: "conversations" })).conversations.find((e: { with?: number }) => e.with === b.id);
    expect(entry).toEqual(expect.objectContaining({ unread: 0, read: m2.mid }));
    const theirs = (await b.w.ok({ type: "conversations" })).conversations.find((e: { with?: number }) => e.with === a.id);
    expect(theirs.peer_read).toBe(m2.mid);
  });

  test("pushes read to the friend and to the reader's other sessions, and nothing when it does not move", async () => {
    const [a, b] = await friends();
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    const m = await b.w.ok({ type: "send", to: a.id, text: "read me" });
    await a.w.ok({ type: "read", with: b.id, mid: m.mid });
    expect(await b.w.push("read")).toEqual({ type: "read", user: a.id, with: a.id, mid: m.mid });
    expect(await a2.w.push("read")).toEqual({ type: "read", user: a.id, with: b.id, mid: m.mid });
    const fromB = b.w.frames.length;
    const fromA = a.w.frames.length;
    await a.w.ok({ type: "read", with: b.id, mid: m.mid });
    expect((await framesUntilPing(b.w, fromB)).filter((f) => f.type === "read")).toEqual([]);
    expect((await framesUntilPing(a.w, fromA)).filter((f) => f.type === "read")).toEqual([]);
  });

  test("in a group goes to the reader's own other sessions only", async () => {
    const a = await fresh();
    const b = await fresh();
    const g = await groupOf(a, b);
    const b2 = await session(srv.port, b.name);
    srv.keep(b2.w);
    const m = await a.w.ok({ type: "group_send", group: g, text: "g" });
    const fromA = a.w.frames.length;
    await b.w.ok({ type: "read", group: g, mid: m.mid });
    expect(await b2.w.push("read")).toEqual({ type: "read", user: b.id, group: g, mid: m.mid });
    expect((await framesUntilPing(a.w, fromA)).filter((f) => f.type === "read")).toEqual([]);
  });

  test("delivers what it covers: a read message is not replayed at the next login", async () => {
    const [a, b] = await friends();
    a.w.close();
    const m1 = await b.w.ok({ type: "send", to: a.id, text: "1" });
    const m2 = await b.w.ok({ type: "send", to: a.id, text: "2" });
    const m3 = await b.w.ok({ type: "send", to: a.id, text: "3" });
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    expect(a2.login.pending).toBe(3);
    await a2.w.push("msg", (f) => f.mid === m3.mid);
    await a2.w.ok({ type: "read", with: b.id, mid: m2.mid });
    const a3 = await session(srv.port, a.name);
    srv.keep(a3.w);
    expect(a3.login.pending).toBe(1);
    expect((await a3.w.push("msg")).mid).toBe(m3.mid);
    expect(m1.mid).toBeLessThan(m2.mid);
  });

  test("errors: invalid for yourself, then no_such_user, not_friend, no_such_group, not_member", async () => {
    const a = await fresh();
    const stranger = await fresh();
    const other = await fresh();
    const g = await groupOf(other);
    expect(await a.w.req({ type: "read", with: a.id, mid: 1 })).toEqual(err("invalid"));
    expect(await a.w.req({ type: "read", with: 999_999_999, mid: 1 })).toEqual(err("no_such_user"));
    expect(await a.w.req({ type: "read", with: stranger.id, mid: 1 })).toEqual(err("not_friend"));
    expect(await a.w.req({ type: "read", group: 999_999_999, mid: 1 })).toEqual(err("no_such_group"));
    expect(await a.w.req({ type: "read", group: g, mid: 1 })).toEqual(err("not_member"));
    expect(await a.w.req({ type: "read", with: stranger.id, group: g, mid: 1 })).toEqual(err("bad_frame"));
    expect(await a.w.req({ type: "read", with: stranger.id })).toEqual(err("bad_frame"));
  });
});

describe("typing", () => {
  test("goes to the friend, or to the other members, never to the typer's own sessions; one per 2 s is forwarded", async () => {
    const [a, b] = await friends();
    const c = await fresh();
    const g = await groupOf(a, b, c);
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    const fromA2 = a2.w.frames.length;
    expect(await a.w.req({ type: "typing", with: b.id })).toEqual(expect.objectContaining({ type: "ok" }));
    expect(await b.w.push("typing")).toEqual({ type: "typing", user: a.id });
    const fromB = b.w.frames.length;
    await a.w.ok({ type: "typing", with: b.id }); // within 2 s: ok, dropped
    expect((await framesUntilPing(b.w, fromB)).filter((f) => f.type === "typing")).toEqual([]);
    await a.w.ok({ type: "typing", group: g });
    expect(await c.w.push("typing", (f) => f.group === g)).toEqual({ type: "typing", user: a.id, group: g });
    expect(await b.w.push("typing", (f) => f.group === g)).toEqual({ type: "typing", user: a.id, group: g });
    expect((await framesUntilPing(a2.w, fromA2)).filter((f) => f.type === "typing")).toEqual([]);
  });

  test("is checked as send is", async () => {
    const a = await fresh();
    const stranger = await fresh();
    expect(await a.w.req({ type: "typing", with: a.id })).toEqual(err("invalid"));
    expect(await a.w.req({ type: "typing", with: stranger.id })).toEqual(err("not_friend"));
    expect(await a.w.req({ type: "typing", group: 999_999_999 })).toEqual(err("no_such_group"));
  });
});

describe("edit and delete", () => {
  test("edit changes the text everywhere: the edited push to the other parties, history and replay", async () => {
    const [a, b] = await friends();
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    const m = await a.w.ok({ type: "send", to: b.id, text: "tpyo" });
    const e = await a.w.ok({ type: "edit", mid: m.mid, text: "typo" });
    expect(e).toEqual(expect.objectContaining({ mid: m.mid, edited: expect.any(Number) }));
    const push = { type: "edited", mid: m.mid, text: "typo", edited: e.edited, from: a.id, to: b.id };
    expect(await b.w.push("edited")).toEqual(push);
    expect(await a2.w.push("edited")).toEqual(push);
    const h = await b.w.ok({ type: "history", with: a.id });
    expect(h.messages.at(-1)).toEqual(expect.objectContaining({ mid: m.mid, text: "typo", edited: e.edited }));
    // Still pending for b (never acked): replayed in its current state.
    const b2 = await session(srv.port, b.name);
    srv.keep(b2.w);
    expect(await b2.w.push("msg", (f) => f.mid === m.mid)).toEqual(expect.objectContaining({ text: "typo", edited: e.edited }));
  });

  test("delete leaves a tombstone: empty text and deleted, in history and replay; deleted messages are not unread", async () => {
    const [a, b] = await friends();
    const keep = await a.w.ok({ type: "send", to: b.id, text: "stays" });
    const m = await a.w.ok({ type: "send", to: b.id, text: "oops" });
    const d = await a.w.ok({ type: "delete", mid: m.mid });
    expect(await b.w.push("deleted")).toEqual({ type: "deleted", mid: m.mid, deleted: d.deleted, from: a.id, to: b.id });
    const h = await b.w.ok({ type: "history", with: a.id });
    expect(h.messages.at(-1)).toEqual({ mid: m.mid, from: a.id, name: a.name, to: b.id, text: "", ts: m.ts, deleted: d.deleted });
    const entry = (await b.w.ok({ type: "conversations" })).conversations.find((x: { with?: number }) => x.with === a.id);
    expect(entry.unread).toBe(1);
    expect(entry.last).toEqual(expect.objectContaining({ mid: m.mid, text: "", deleted: d.deleted }));
    const b2 = await session(srv.port, b.name);
    srv.keep(b2.w);
    expect(await b2.w.push("msg", (f) => f.mid === m.mid)).toEqual(expect.objectContaining({ text: "", deleted: d.deleted }));
    expect(keep.mid).toBeLessThan(m.mid);
    // Gone: a second delete or an edit finds no message.
    expect(await a.w.req({ type: "delete", mid: m.mid })).toEqual(err("no_such_message"));
    expect(await a.w.req({ type: "edit", mid: m.mid, text: "back" })).toEqual(err("no_such_message"));
  });

  test("only the sender edits; in a group the creator may delete anyone's message; others are forbidden", async () => {
    const owner = await fresh();
    const member = await fresh();
    const other = await fresh();
    const g = await groupOf(owner, member, other);
    const m = await member.w.ok({ type: "group_send", group: g, text: "member's" });
    expect(await owner.w.req({ type: "edit", mid: m.mid, text: "x" })).toEqual(err("forbidden"));
    expect(await other.w.req({ type: "delete", mid: m.mid })).toEqual(err("forbidden"));
    const d = await owner.w.ok({ type: "delete", mid: m.mid });
    expect(await member.w.push("deleted")).toEqual({ type: "deleted", mid: m.mid, deleted: d.deleted, from: member.id, group: g });
  });

  test("a message the requester is not a party to is no_such_message, before forbidden", async () => {
    const [a, b] = await friends();
    const outsider = await fresh();
    const m = await a.w.ok({ type: "send", to: b.id, text: "private" });
    expect(await outsider.w.req({ type: "edit", mid: m.mid, text: "x" })).toEqual(err("no_such_message"));
    expect(await outsider.w.req({ type: "delete", mid: m.mid })).toEqual(err("no_such_message"));
    expect(await b.w.req({ type: "edit", mid: m.mid, text: "x" })).toEqual(err("forbidden"));
    expect(await b.w.req({ type: "delete", mid: m.mid })).toEqual(err("forbidden"));
    expect(await a.w.req({ type: "edit", mid: 999_999_999, text: "x" })).toEqual(err("no_such_message"));
  });

  test("the edit window bounds the sender's edits and deletes", async () => {
    const short = await startTestServer({ editWindowMs: 1 });
    try {
      const a = await (await import("../support/conformance.ts")).person(short.port, uniq("ew"));
      const b = await (await import("../support/conformance.ts")).person(short.port, uniq("ew"));
      await befriend(a, b);
      const m = await a.w.ok({ type: "send", to: b.id, text: "soon old" });
      // The window is 1 ms; the clock has to pass it, there is no event to wait for.
      await Bun.sleep(5);
      expect(await a.w.req({ type: "edit", mid: m.mid, text: "x" })).toEqual(err("too_late"));
      expect(await a.w.req({ type: "delete", mid: m.mid })).toEqual(err("too_late"));
      a.w.close();
      b.w.close();
    } finally {
      await short.stop();
    }
  });
});

describe("remove_friend", () => {
  test("ends the friendship both ways with friend_removed pushes; history and sends are then not_friend", async () => {
    const [a, b] = await friends();
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    await a.w.ok({ type: "send", to: b.id, text: "last words" });
    expect(await a.w.ok({ type: "remove_friend", user: b.id })).toEqual(expect.objectContaining({ type: "ok" }));
    expect(await b.w.push("friend_removed")).toEqual({ type: "friend_removed", user: a.id });
    expect(await a2.w.push("friend_removed")).toEqual({ type: "friend_removed", user: b.id });
    for (const w of [a.w, a2.w]) {
      expect(await w.req({ type: "send", to: b.id, text: "x" })).toEqual(err("not_friend"));
      expect(await w.req({ type: "history", with: b.id })).toEqual(err("not_friend"));
    }
    expect(await b.w.req({ type: "send", to: a.id, text: "x" })).toEqual(err("not_friend"));
    expect((await b.w.ok({ type: "friends" })).friends).toEqual([]);
    expect(await a.w.req({ type: "remove_friend", user: b.id })).toEqual(err("not_friend"));
    expect(await a.w.req({ type: "remove_friend", user: a.id })).toEqual(err("invalid"));
    expect(await a.w.req({ type: "remove_friend", user: 999_999_999 })).toEqual(err("no_such_user"));
    // Friends again: the conversation resumes, nothing old comes back as unread.
    await befriend(a, b);
    const entry = (await b.w.ok({ type: "conversations" })).conversations.find((x: { with?: number }) => x.with === a.id);
    expect(entry).toEqual(expect.objectContaining({ last: expect.objectContaining({ text: "last words" }) }));
  });
});
