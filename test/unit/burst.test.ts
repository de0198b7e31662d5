/** Repeated events of a connection as few log lines: the Burst state machine and the AbuseLog over it, with a test clock. */
import { describe, expect, it } from "bun:test";
import type { Logger } from "../../src/log.ts";
import { AbuseLog } from "../../src/server/abuse-log.ts";
import { Burst, type BurstReport } from "../../src/server/burst.ts";

function burst(intervalMs = 1000) {
  const reports: BurstReport<string>[] = [];
  return { b: new Burst<string>(intervalMs, (r) => reports.push(r)), reports };
}

describe("a burst", () => {
  it("reports its first event in full, then nothing until the interval has passed", () => {
    const { b, reports } = burst();
    b.hit(0, "first");
    for (let t = 1; t < 1000; t++) b.hit(t, "more");
    expect(reports).toEqual([{ first: true, detail: "first" }]);
    b.hit(1000, "more");
    expect(reports).toEqual([
      { first: true, detail: "first" },
      { first: false, count: 1000, ms: 1000, over: false },
    ]);
  });

  it("reports at most one line per interval however many events come", () => {
    const { b, reports } = burst();
    for (let t = 0; t < 10_000; t += 0.5) b.hit(t, "x");
    b.end();
    expect(reports.length).toBeLessThanOrEqual(1 + 10 + 1);
    const counted = reports.reduce((n, r) => n + (r.first ? 1 : r.count), 0);
    expect(counted).toBe(20_000);
    expect(reports.at(-1)).toMatchObject({ first: false, over: true });
  });

  it("ends after a quiet interval: the next event starts a new burst, and the old one's rest is reported first", () => {
    const { b, reports } = burst();
    b.hit(0, "a");
    b.hit(10, "a");
    b.hit(20, "a");
    b.hit(1020, "b"); // 1000 ms after the last one
    expect(reports).toEqual([
      { first: true, detail: "a" },
      { first: false, count: 2, ms: 20, over: true },
      { first: true, detail: "b" },
    ]);
  });

  it("says nothing more at its end when its only event was already reported", () => {
    const { b, reports } = burst();
    b.hit(0, "a");
    b.end();
    b.end();
    expect(reports).toEqual([{ first: true, detail: "a" }]);
    b.hit(5, "c");
    expect(reports.at(-1)).toEqual({ first: true, detail: "c" });
  });
});

function capture() {
  const lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => void lines.push({ level, event, fields });
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

describe("the abuse log", () => {
  it("writes one line per kind and connection when a burst starts, naming the address first, and a summary when the connection closes", () => {
    const { log, lines } = capture();
    const clock = { now: 0 };
    const abuse = new AbuseLog(log, 60_000, () => clock.now);
    const a = { id: 1, remote: "192.0.2.1", session: { user: { id: 42 } } };
    const b = { id: 2, remote: "192.0.2.2" };
    for (let i = 0; i < 500; i++) {
      clock.now += 10;
      abuse.hit(a, "bad_frame", { code: "bad_frame" });
      abuse.hit(b, "rate_limited", { type: "ping" });
    }
    abuse.hit(a, "rate_limited", { type: "send" });
    expect(lines).toEqual([
      { level: "warn", event: "bad_frame", fields: { remote: "192.0.2.1", conn: 1, user: 42, code: "bad_frame" } },
      { level: "warn", event: "rate_limited", fields: { remote: "192.0.2.2", conn: 2, user: undefined, type: "ping" } },
      { level: "warn", event: "rate_limited", fields: { remote: "192.0.2.1", conn: 1, user: 42, type: "send" } },
    ]);
    expect(Object.keys(lines[0]!.fields)[0]).toBe("remote");
    abuse.closed(a);
    abuse.closed(a);
    expect(lines.slice(3)).toEqual([{ level: "warn", event: "bad_frame_repeats", fields: { remote: "192.0.2.1", conn: 1, user: 42, count: 499, seconds: 5, over: true } }]);
    abuse.closed(b);
    expect(lines.at(-1)).toMatchObject({ event: "rate_limited_repeats", fields: { conn: 2, count: 499, over: true } });
    expect(lines).toHaveLength(5);
  });
});
