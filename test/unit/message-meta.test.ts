import { describe, expect, it } from "bun:test";
import { MessageMeta } from "../../src/store/message-meta.ts";

const party = (sender: number) => ({ sender, recipient: sender + 1, group: null });

describe("MessageMeta", () => {
  it("holds at most max mids and lets the oldest go first", () => {
    const meta = new MessageMeta({ max: 3 });
    for (const mid of [10, 11, 12, 13, 14]) meta.set(mid, party(mid));
    expect(meta.size).toBe(3);
    expect(meta.get(10)).toBeUndefined();
    expect(meta.get(11)).toBeUndefined();
    expect([12, 13, 14].map((mid) => meta.get(mid)?.sender)).toEqual([12, 13, 14]);
  });

  it("keeps evicting in storing order round after round", () => {
    const meta = new MessageMeta({ max: 4 });
    for (let mid = 1; mid <= 1_000; mid++) meta.set(mid, party(mid));
    expect(meta.size).toBe(4);
    expect([996, 997, 998, 999, 1_000].map((mid) => meta.get(mid) !== undefined)).toEqual([false, true, true, true, true]);
  });

  it("counts a mid set twice once", () => {
    const meta = new MessageMeta({ max: 2 });
    meta.set(1, party(1));
    meta.set(1, party(7));
    meta.set(2, party(2));
    expect(meta.size).toBe(2);
    expect(meta.get(1)?.sender).toBe(7);
    meta.set(3, party(3));
    expect(meta.get(1)).toBeUndefined();
    expect(meta.get(2)?.sender).toBe(2);
  });
});
