/**
 * The web client's Timeline (src/web/timeline.ts): the messages of one
 * conversation in mid order, pending sends by cid, duplicates kept once.
 */
import { describe, expect, it } from "bun:test";
import type { ChatMessage } from "../../src/client/types.ts";
import { Timeline } from "../../src/web/timeline.ts";

const m = (mid: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({ mid, from: 8, name: "bob", to: 7, text: `m${mid}`, ts: mid * 1000, ...extra });
const mids = (t: Timeline) => t.all().map((s) => s.mid ?? s.cid);

describe("Timeline", () => {
  it("keeps messages in mid order whatever order they come in, a page of older ones included", () => {
    const t = new Timeline();
    t.addStored([m(5), m(7)]);
    t.addStored([m(6)]);
    t.addStored([m(1), m(2), m(3)]);
    expect(mids(t)).toEqual([1, 2, 3, 5, 6, 7]);
    expect([t.oldestMid, t.newestMid]).toEqual([1, 7]);
  });

  it("keeps a mid delivered twice once, and says nothing changed", () => {
    const t = new Timeline();
    expect(t.addStored([m(3)])).toBe(true);
    expect(t.addStored([m(3)])).toBe(false);
    expect(mids(t)).toEqual([3]);
  });

  it("shows a pending send after the stored messages until its stored copy, found by cid, replaces it", () => {
    const t = new Timeline();
    t.addStored([m(3)]);
    t.addPending({ cid: "c1", from: 7, name: "me", text: "hello", ts: 1, status: "sending" });
    t.addPending({ cid: "c2", from: 7, name: "me", text: "again", ts: 2, status: "sending" });
    expect(mids(t)).toEqual([3, "c1", "c2"]);
    t.confirm("c1", 4, 4000);
    expect(mids(t)).toEqual([3, 4, "c2"]);
    expect(t.byMid(4)).toMatchObject({ status: "sent", text: "hello", cid: "c1" });
    expect(t.byMid(4)?.okAt).toBeGreaterThan(0);
    // The same message fetched by history (after a reconnect) replaces nothing twice.
    t.addStored([m(5, { from: 7, cid: "c2", text: "again" })]);
    expect(mids(t)).toEqual([3, 4, 5]);
  });

  it("applies edits and deletes, and a replay of the older text does not undo them", () => {
    const t = new Timeline();
    t.addStored([m(1), m(2)]);
    expect(t.edit(1, "new", 50)).toBe(true);
    expect(t.delete(2, 60)).toBe(true);
    t.addStored([m(1), m(2)]);
    expect(t.byMid(1)).toMatchObject({ text: "new", edited: 50 });
    expect(t.byMid(2)).toMatchObject({ text: "", deleted: 60 });
    expect(t.edit(2, "back", 70)).toBe(false);
    expect(t.edit(9, "none", 70)).toBe(false);
  });
});
