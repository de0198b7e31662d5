/**
 * The hot path's series (src/server/hot-metrics.ts) write exactly what
 * prom-client's own Counter and Histogram write for the same counts: each is
 * checked against the real thing, page text for page text.
 */
import { describe, expect, it } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { TallyHistogram, tallyCounter } from "../../src/server/hot-metrics.ts";

const BOUNDS = [0.001, 0.005, 0.01, 0.1, 1];

/** Deterministic values across and beyond the bounds, exact bounds included. */
function values(n: number): number[] {
  let x = 12345;
  const out = [0, 0.001, 0.005, 1, 7];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push((x / 2 ** 31) ** 3 * 2);
  }
  return out;
}

describe("a tally histogram", () => {
  it("writes the page prom-client's Histogram writes for the same observations, by label", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyHistogram({ name: "x_seconds", help: "x", label: "type", buckets: BOUNDS, registry: ours });
    const real = new Histogram({ name: "x_seconds", help: "x", labelNames: ["type"], buckets: BOUNDS, registers: [theirs] });
    for (const type of ["send", "login", "never"]) {
      tally.series(type);
      real.zero({ type });
    }
    values(500).forEach((v, i) => {
      const type = i % 3 === 0 ? "login" : "send";
      tally.series(type).observe(v);
      real.observe({ type }, v);
    });
    const page = await ours.metrics();
    expect(page).toBe(await theirs.metrics());
    expect(page).toContain('x_seconds_bucket{le="+Inf",type="never"} 0');
  });

  it("writes the page prom-client's Histogram writes without a label", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyHistogram({ name: "y_seconds", help: "y", buckets: BOUNDS, registry: ours }).series();
    const real = new Histogram({ name: "y_seconds", help: "y", buckets: BOUNDS, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const v of values(100)) {
      tally.observe(v);
      real.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("starts again from 0 when its registry is reset", async () => {
    const registry = new Registry();
    const b = new TallyHistogram({ name: "z_seconds", help: "z", buckets: BOUNDS, registry }).series();
    b.observe(0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).toContain("z_seconds_count 0");
  });
});

describe("a tally counter", () => {
  it("writes the page prom-client's Counter writes for the same counts, at every scrape", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const count = tallyCounter({ name: "r_total", help: "r", label: "type", known: ["a", "b"], registry: ours });
    const real = new Counter({ name: "r_total", help: "r", labelNames: ["type"], registers: [theirs] });
    for (const t of ["a", "b"]) real.inc({ type: t }, 0);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const [t, n] of [["a", 1], ["c", 3], ["a", 2], ["b", 1]] as const) {
      count(t, n);
      real.inc({ type: t }, n);
      expect(await ours.metrics()).toBe(await theirs.metrics());
    }
    expect(await ours.metrics()).toContain('r_total{type="a"} 3');
  });
});
