/** The client library's small parts, without sockets. */
import { describe, expect, it } from "bun:test";
import { AckBatcher } from "../../src/client/ack-batcher.ts";
import { backoffDelay } from "../../src/client/backoff.ts";
import { RecentSet } from "../../src/client/recent-set.ts";
import { WriteQueue } from "../../src/client/write-queue.ts";

describe("backoffDelay", () => {
  it("doubles from 100 ms up to 5 s", () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, {}, mid))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000,
    ]);
  });

  it("spreads each delay by ±50%", () => {
    expect(backoffDelay(1, {}, () => 0)).toBe(50);
    expect(backoffDelay(1, {}, () => 1)).toBe(150);
    expect(backoffDelay(10, {}, () => 1)).toBe(7500);
  });

  it("follows the options given", () => {
    expect(backoffDelay(3, { initialDelayMs: 10, factor: 3, jitter: 0 })).toBe(90);
  });
});

describe("RecentSet", () => {
  it("tells new values from values seen", () => {
    const s = new RecentSet<number>(3);
    expect(s.add(1)).toBe(true);
    expect(s.add(1)).toBe(false);
    expect(s.has(1)).toBe(true);
  });

  it("forgets the oldest value beyond its capacity", () => {
    const s = new RecentSet<number>(2);
    s.add(1);
    s.add(2);
    s.add(3);
    expect([s.has(1), s.has(2), s.has(3), s.size]).toEqual([false, true, true, 2]);
  });
});

describe("WriteQueue", () => {
  /** A socket that takes at most `room` bytes until it is given more room. */
  function socket(room: number) {
    const written: number[] = [];
    return {
      written,
      room,
      write(bytes: Uint8Array): number {
        const n = Math.min(this.room, bytes.length);
        written.push(...bytes.subarray(0, n));
        this.room -= n;
        return n;
      },
    };
  }

  it("keeps the unwritten rest and everything after it, in order, until drain", () => {
    const s = socket(3);
    const q = new WriteQueue((b) => s.write(b));
    q.push(Uint8Array.of(1, 2, 3, 4, 5));
    q.push(Uint8Array.of(6, 7));
    expect(s.written).toEqual([1, 2, 3]);
    expect(q.pending).toBe(4);
    s.room = 3;
    q.drain();
    expect(s.written).toEqual([1, 2, 3, 4, 5, 6]);
    expect(q.pending).toBe(1);
    s.room = 100;
    q.drain();
    expect(s.written).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(q.pending).toBe(0);
  });

  it("writes straight through while the socket takes everything", () => {
    const s = socket(100);
    const q = new WriteQueue((b) => s.write(b));
    q.push(Uint8Array.of(1));
    q.push(Uint8Array.of(2));
    expect(s.written).toEqual([1, 2]);
    expect(q.pending).toBe(0);
  });

  it("survives a closed socket (-1)", () => {
    const q = new WriteQueue(() => -1);
    q.push(Uint8Array.of(1, 2));
    q.drain();
    expect(q.pending).toBe(2);
    q.clear();
    expect(q.pending).toBe(0);
  });
});

describe("AckBatcher", () => {
  it("sends one batch after the delay", async () => {
    const { promise, resolve } = Promise.withResolvers<number[]>();
    const b = new AckBatcher(resolve, { delayMs: 1 });
    b.add(1);
    b.add(2);
    b.add(2); // a duplicate within the batch is acked once
    expect(await promise).toEqual([1, 2]);
    expect(b.pending).toBe(0);
  });

  it("sends at once when the batch is full, and flush() sends the rest", () => {
    const sent: number[][] = [];
    const b = new AckBatcher((m) => sent.push(m), { delayMs: 60_000, maxBatch: 2 });
    [1, 2, 3].forEach((m) => b.add(m));
    expect(sent).toEqual([[1, 2]]);
    b.flush();
    expect(sent).toEqual([[1, 2], [3]]);
  });

  it("clear() forgets what waits and cancels the timer", () => {
    const sent: number[][] = [];
    const b = new AckBatcher((m) => sent.push(m), { delayMs: 60_000 });
    b.add(1);
    b.clear();
    b.flush();
    expect(sent).toEqual([]);
  });

  it("refuses batches the protocol does not allow", () => {
    expect(() => new AckBatcher(() => {}, { maxBatch: 0 })).toThrow(TypeError);
    expect(() => new AckBatcher(() => {}, { maxBatch: 1001 })).toThrow(TypeError);
  });
});
