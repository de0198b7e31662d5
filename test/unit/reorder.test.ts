/**
 * The cross-node reorder buffer, driven by a fake clock: pushes of a
 * conversation fed by several nodes go out in mid order, as soon as nothing
 * smaller can come, and never later than the window.
 */
import { describe, expect, it } from "bun:test";
import { type Clock, ReorderBuffer } from "../../src/server/reorder.ts";

function fakeClock() {
  let now = 0;
  let soon: (() => void)[] = [];
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    soon: (fn) => void soon.push(fn),
  };
  return {
    clock,
    /** Runs what was scheduled "soon" (the microtasks). */
    settle() {
      while (soon.length) {
        const run = soon;
        soon = [];
        for (const fn of run) fn();
      }
    },
    advance(ms: number) {
      now += ms;
      for (const [h, t] of [...timers]) if (t.at <= now && timers.delete(h)) t.fn();
      this.settle();
    },
    get timers() {
      return timers.size;
    },
  };
}

function setup(windowMs = 50) {
  const time = fakeClock();
  const out: number[] = [];
  const errors: unknown[] = [];
  const buffer = new ReorderBuffer({ windowMs, clock: time.clock, onError: (e) => errors.push(e) });
  const deliver = (origin: string, mid: number, conv = "g1") => buffer.deliver(origin, { mid, conv }, () => void out.push(mid));
  return { time, out, errors, buffer, deliver };
}

describe("the reorder buffer", () => {
  it("pushes at once while a conversation is fed by one node", () => {
    const { out, deliver, buffer } = setup();
    deliver("a", 1);
    deliver("a", 2);
    deliver("a", 3);
    expect(out).toEqual([1, 2, 3]);
    expect(buffer.held).toBe(0);
  });

  it("holds a push of a conversation fed by two nodes until the other node shows a larger mid", () => {
    const { out, deliver, time } = setup();
    deliver("a", 10);
    deliver("b", 12); // b feeds g1 too now: 12 waits for a to pass 12
    expect(out).toEqual([10]);
    deliver("a", 11); // b has shown 12 already: nothing smaller than 11 can come from b
    time.settle();
    expect(out).toEqual([10, 11]);
    deliver("a", 13); // a is past 12 now, so 12 goes; 13 waits for b to pass 13
    time.settle();
    expect(out).toEqual([10, 11, 12]);
    deliver("b", 14);
    time.settle();
    expect(out).toEqual([10, 11, 12, 13]);
  });

  it("lets progress on another conversation release a held push", () => {
    const { out, deliver, buffer, time } = setup();
    deliver("a", 1);
    deliver("b", 5);
    expect(out).toEqual([1]);
    buffer.deliver("a", { mid: 6, conv: "3:7" }); // nobody to push to here, but a is past 5
    time.settle();
    expect(out).toEqual([1, 5]);
  });

  it("sends a held push when the window ends, even if the other node never shows a larger mid", () => {
    const { out, deliver, time, buffer } = setup(50);
    deliver("a", 1);
    deliver("b", 9);
    time.advance(49);
    expect(out).toEqual([1]);
    time.advance(13);
    expect(out).toEqual([1, 9]);
    expect(buffer.held).toBe(0);
    expect(time.timers).toBe(0);
  });

  it("puts crossed pushes back in mid order", () => {
    const { out, deliver, time } = setup();
    deliver("a", 20);
    deliver("b", 25);
    deliver("b", 23); // arrives after 25 from the same origin: never happens in production, still ordered
    deliver("b", 22);
    time.advance(100);
    expect(out).toEqual([20, 22, 23, 25]);
  });

  it("keeps conversations apart: a held one does not delay another", () => {
    const { out, deliver } = setup();
    deliver("a", 1, "g1");
    deliver("b", 2, "g1"); // held
    deliver("a", 3, "g2"); // g2 is fed by a alone
    expect(out).toEqual([1, 3]);
  });

  it("forgets a node that stopped feeding a conversation", () => {
    const { out, deliver, time } = setup();
    deliver("a", 1);
    deliver("b", 2);
    time.advance(60);
    expect(out).toEqual([1, 2]);
    time.advance(11_000);
    deliver("b", 3); // a has been silent in g1 for longer than 10 s: no wait
    expect(out).toEqual([1, 2, 3]);
  });

  it("goes on with the pushes behind one that throws", () => {
    const { out, errors, buffer, deliver, time } = setup();
    deliver("a", 1);
    buffer.deliver("b", { mid: 2, conv: "g1" }, () => {
      throw new Error("socket gone");
    });
    deliver("b", 3);
    deliver("a", 4);
    time.settle();
    expect(out).toEqual([1, 3]);
    time.advance(100);
    expect(out).toEqual([1, 3, 4]);
    expect(errors).toHaveLength(1);
  });

  it("never holds with a window of 0", () => {
    const { out, deliver } = setup(0);
    deliver("a", 5);
    deliver("b", 3);
    deliver("a", 4);
    expect(out).toEqual([5, 3, 4]);
  });

  it("drops what it holds when closed", () => {
    const { out, deliver, buffer, time } = setup();
    deliver("a", 1);
    deliver("b", 2);
    buffer.close();
    time.advance(100);
    expect(out).toEqual([1]);
    expect(time.timers).toBe(0);
  });
});
