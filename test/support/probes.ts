/** Figures about a running chat node for tests and benchmarks: its /metrics page, its memory. */
import { readFileSync } from "node:fs";

/** A Prometheus text page as `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Every sample of a node's /metrics page (within 5 s). */
export async function scrapeMetrics(adminPort: number, host = "127.0.0.1"): Promise<Map<string, number>> {
  const r = await fetch(`http://${host}:${adminPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return parseMetrics(await r.text());
}

/** One unlabelled sample of a node's /metrics page, 0 when absent. */
export async function metric(adminPort: number, name: string): Promise<number> {
  return (await scrapeMetrics(adminPort)).get(name) ?? 0;
}

/** Resident memory of process `pid` in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** 12345 -> "12,345" for the figures the tests print. */
export const fmt = (n: number) => n.toLocaleString("en-US");
