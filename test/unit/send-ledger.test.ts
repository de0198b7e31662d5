import { describe, expect, test } from "bun:test";
import { type Accepted, describeTally, SendLedger } from "../support/send-ledger.ts";

const ok = (text: string, mid: number, to: string, attempts = 1, duplicate = false): Accepted<string> => ({ text, mid, to, attempts, duplicate, at: 0 });

describe("the send ledger of the fault tests", () => {
  test("counts a message delivered to its recipient, and one that never arrived as lost", () => {
    const l = new SendLedger<string>();
    l.accept(ok("a #1", 1, "bob"));
    l.accept(ok("a #2", 2, "bob"));
    l.saw({ mid: 1, text: "a #1" }, "bob");
    const t = l.tally();
    expect(t.accepted).toBe(2);
    expect(t.delivered).toBe(1);
    expect(t.lost.map((a) => a.mid)).toEqual([2]);
    expect(t.duplicated).toEqual([]);
  });

  test("a copy held by someone else or only in storage is not a delivery", () => {
    const l = new SendLedger<string>();
    l.accept(ok("a #1", 1, "bob"));
    l.saw({ mid: 1, text: "a #1" }, "carol");
    l.stored({ mid: 1, text: "a #1" });
    expect(l.tally().lost.length).toBe(1);
  });

  test("one text under two mids is duplicated, delivered or stored", () => {
    const delivered = new SendLedger<string>();
    delivered.accept(ok("a #1", 1, "bob", 2));
    delivered.saw({ mid: 1, text: "a #1" }, "bob");
    delivered.saw({ mid: 7, text: "a #1" }, "bob");
    expect(delivered.tally().duplicated).toEqual(["a #1"]);

    const stored = new SendLedger<string>();
    stored.accept(ok("a #1", 1, "bob", 2));
    stored.saw({ mid: 1, text: "a #1" }, "bob");
    stored.stored({ mid: 1, text: "a #1" });
    expect(stored.tally().duplicated).toEqual([]);
    stored.stored({ mid: 9, text: "a #1" });
    expect(stored.tally().duplicated).toEqual(["a #1"]);
  });

  test("a copy under another mid than the ok named is a duplicate, and the promised one is lost", () => {
    const l = new SendLedger<string>();
    l.accept(ok("a #1", 1, "bob"));
    l.saw({ mid: 2, text: "a #1" }, "bob");
    const t = l.tally();
    expect(t.duplicated).toEqual(["a #1"]);
    expect(t.lost.length).toBe(1);
  });

  test("a group message accepted once per member is one message, not a duplicate", () => {
    const l = new SendLedger<string>();
    l.accept(ok("g #1", 5, "bob"));
    l.accept(ok("g #1", 5, "carol"));
    l.saw({ mid: 5, text: "g #1" }, "bob");
    l.saw({ mid: 5, text: "g #1" }, "carol");
    expect(l.tally()).toMatchObject({ accepted: 2, delivered: 2, duplicated: [] });
  });

  test("counts re-sends, the repeat attempts, and those the server had already stored", () => {
    const l = new SendLedger<string>();
    l.accept(ok("a #1", 1, "bob"));
    l.accept(ok("a #2", 2, "bob", 3));
    l.accept(ok("a #3", 3, "bob", 2, true));
    l.abandon("a #4", "no ok within 60 s");
    for (const m of [1, 2, 3]) l.saw({ mid: m, text: `a #${m}` }, "bob");
    const t = l.tally();
    expect(t).toMatchObject({ resent: 2, alreadyStored: 1, extraAttempts: 3, abandoned: 1 });
    expect(describeTally(t)).toBe("3 accepted, 3 delivered, 0 lost, 0 duplicated, 2 re-sent (3 repeat attempts) of which 1 were already stored (duplicate: true), 1 given up without ok");
  });

  test("ignores copies of messages it was not told about and copies without a text", () => {
    const l = new SendLedger<string>();
    l.accept(ok("a #1", 1, "bob"));
    l.saw({ mid: 1, text: "a #1" }, "bob");
    l.saw({ mid: 8, text: "someone else's" }, "bob");
    l.saw({ mid: 9 }, "bob");
    expect(describeTally(l.tally())).toBe("1 accepted, 1 delivered, 0 lost, 0 duplicated, 0 re-sent");
  });
});
