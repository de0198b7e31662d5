/**
 * Exactly-once sends (protocol 1.1 `cid`): a send that repeats a cid the
 * sender already used stores and pushes nothing new and answers with the
 * first message's mid and ts, whatever else the request now says; the cid
 * travels in every body of the message.
 */
import { describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, session, sharedServer } from "../support/conformance.ts";

const srv = sharedServer({ node: "once" });
const fresh = (prefix = "eo") => srv.fresh(prefix);

function err(code: string) {
  return expect.objectContaining({ type: "error", code });
}

describe("hello", () => {
  test("lists cid among the features", async () => {
    const w = await srv.conn();
    expect(w.frames[0]?.features).toContain("cid");
  });
});

describe("a send with a cid", () => {
  test("sent twice is stored and pushed once; the second reply has the first's mid and ts and duplicate: true", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const first = await a.w.ok({ type: "send", to: b.id, text: "once", cid: "c-1" });
    expect(first.duplicate).toBeUndefined();
    const push = await b.w.push("msg", (f) => f.mid === first.mid);
    expect(push).toEqual({ type: "msg", mid: first.mid, from: a.id, name: a.name, to: b.id, text: "once", ts: first.ts, cid: "c-1" });
    const from = b.w.frames.length;
    const again = await a.w.ok({ type: "send", to: b.id, text: "once", cid: "c-1" });
    expect(again).toEqual(expect.objectContaining({ mid: first.mid, ts: first.ts, duplicate: true }));
    expect((await framesUntilPing(b.w, from)).filter((f) => f.type === "msg")).toEqual([]);
    const h = await a.w.ok({ type: "history", with: b.id });
    expect(h.messages).toEqual([{ mid: first.mid, from: a.id, name: a.name, to: b.id, text: "once", ts: first.ts, cid: "c-1" }]);
  });

  test("is a duplicate whatever the repeat's to, text or group, even where the repeat alone would fail", async () => {
    const a = await fresh();
    const b = await fresh();
    const stranger = await fresh();
    await befriend(a, b);
    const first = await a.w.ok({ type: "send", to: b.id, text: "x", cid: "same" });
    const dup = expect.objectContaining({ type: "ok", mid: first.mid, ts: first.ts, duplicate: true });
    expect(await a.w.req({ type: "send", to: a.id, text: "to myself", cid: "same" })).toEqual(dup); // else invalid
    expect(await a.w.req({ type: "send", to: stranger.id, text: "y", cid: "same" })).toEqual(dup); // else not_friend
    expect(await a.w.req({ type: "send", to: 999_999_999, text: "z", cid: "same" })).toEqual(dup); // else no_such_user
    expect(await a.w.req({ type: "group_send", group: 999_999_999, text: "g", cid: "same" })).toEqual(dup); // else no_such_group
  });

  test("is checked after the schema and the login", async () => {
    const w = await srv.conn();
    expect(await w.req({ type: "send", to: 1, text: "x", cid: "" })).toEqual(err("bad_frame"));
    expect(await w.req({ type: "send", to: 1, text: "x", cid: "c" })).toEqual(err("not_logged_in"));
    const a = await fresh();
    const bad = await a.w.req({ type: "send", to: 1, text: "x", cid: "x".repeat(65) });
    expect(bad).toEqual(err("bad_frame"));
    expect(bad.message).toMatch(/^cid: /);
    expect(await a.w.req({ type: "send", to: 1, text: "x", cid: 7 })).toEqual(err("bad_frame"));
  });

  test("compares exactly: case, trailing space and a different sender make different messages", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const mids = new Set<number>();
    for (const cid of ["k", "K", "k ", " k", "ｋ"]) mids.add((await a.w.ok({ type: "send", to: b.id, text: cid, cid })).mid);
    mids.add((await b.w.ok({ type: "send", to: a.id, text: "b's k", cid: "k" })).mid);
    expect(mids.size).toBe(6);
  });

  test("sent on two connections at once is stored once, and both get the same mid", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => [
        a.w.ok({ type: "send", to: b.id, text: `race ${i}`, cid: `race-${i}` }),
        a2.w.ok({ type: "send", to: b.id, text: `race ${i}`, cid: `race-${i}` }),
      ]).flat(),
    );
    for (let i = 0; i < 20; i++) expect(results[2 * i]?.mid).toBe(results[2 * i + 1]?.mid as number);
    expect(results.filter((r) => r.duplicate).length).toBe(20);
    const h = await b.w.ok({ type: "history", with: a.id, limit: 100 });
    expect(h.messages.length).toBe(20);
  });

  test("in a group: the cid is in the push, in replay and in history; a repeat is a duplicate", async () => {
    const a = await fresh();
    const b = await fresh();
    const g = (await a.w.ok({ type: "create_group", name: `eo-g-${a.id}` })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    const first = await a.w.ok({ type: "group_send", group: g, text: "to all", cid: "g-1" });
    expect((await b.w.push("msg", (f) => f.mid === first.mid)).cid).toBe("g-1");
    const again = await a.w.ok({ type: "group_send", group: g, text: "to all", cid: "g-1" });
    expect(again).toEqual(expect.objectContaining({ mid: first.mid, duplicate: true }));
    // Not acked: it comes again at b's next login, with its cid.
    const b2 = await session(srv.port, b.name);
    srv.keep(b2.w);
    expect((await b2.w.push("msg", (f) => f.mid === first.mid)).cid).toBe("g-1");
    expect((await b.w.ok({ type: "history", group: g })).messages.map((m: { cid?: string }) => m.cid)).toEqual(["g-1"]);
  });

  test("a send without a cid has none in its bodies", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const r = await a.w.ok({ type: "send", to: b.id, text: "plain" });
    expect(await b.w.push("msg", (f) => f.mid === r.mid)).not.toHaveProperty("cid");
    expect(r).not.toHaveProperty("duplicate");
  });

  test("a repeat of a message stored but never pushed (its node died first) brings it to the recipient now", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    // What a node that committed the message and died before pushing it leaves behind.
    const ts = Date.now();
    await srv.ts.pool.query(
      "INSERT INTO messages (sender_id, recipient_id, peer_lo, peer_hi, body, ts, cid) VALUES (?, ?, ?, ?, 'stored, not pushed', ?, 'orphan-1')",
      [a.id, b.id, Math.min(a.id, b.id), Math.max(a.id, b.id), ts],
    );
    const again = await a.w.ok({ type: "send", to: b.id, text: "stored, not pushed", cid: "orphan-1" });
    expect(again).toEqual(expect.objectContaining({ ts, duplicate: true }));
    expect(await b.w.push("msg", (f) => f.mid === again.mid)).toEqual(expect.objectContaining({ text: "stored, not pushed", cid: "orphan-1", from: a.id }));
  });
});
