/**
 * A hand-written SVG chart of the load results: delivered messages/s (left)
 * and delivery latency p50/p99 (right) against connections (log scale), one
 * line per series (scenario and node count), with the targets as dashed lines.
 */

export interface ChartPoint {
  conns: number;
  perS: number;
  p50: number;
  p99: number;
}

export interface ChartSeries {
  label: string;
  points: ChartPoint[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
const W = 460;
const H = 300;
const M = { l: 64, r: 16, t: 34, b: 46 };

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** Round-ish ticks from 0 to max. */
function linearTicks(max: number): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001 + step; v += step) {
    out.push(v);
    if (v >= max) break;
  }
  return out;
}

function fmt(v: number): string {
  if (v >= 1_000_000) return `${+(v / 1_000_000).toFixed(1)}M`;
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

interface Panel {
  title: string;
  yLabel: string;
  lines: { label: string; color: string; dash?: string; pts: [number, number][] }[];
  targets: { value: number; label: string }[];
  logY?: boolean;
}

function panel(p: Panel, xs: number[], ox: number): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const xmin = Math.min(...xs);
  const xmax = Math.max(...xs);
  const lx = (x: number) => (xmax === xmin ? pw / 2 : ((Math.log10(x) - Math.log10(xmin)) / (Math.log10(xmax) - Math.log10(xmin))) * pw);
  const allY = p.lines.flatMap((l) => l.pts.map((q) => q[1])).concat(p.targets.map((t) => t.value));
  let ymap: (y: number) => number;
  let yticks: number[];
  if (p.logY) {
    const lo = Math.max(0.01, Math.min(...allY.filter((y) => y > 0), 1));
    const hi = Math.max(...allY, lo * 10);
    const a = Math.floor(Math.log10(lo));
    const b = Math.ceil(Math.log10(hi));
    yticks = [];
    for (let e = a; e <= b; e++) yticks.push(10 ** e);
    ymap = (y) => ph - ((Math.log10(Math.max(y, 10 ** a)) - a) / (b - a || 1)) * ph;
  } else {
    yticks = linearTicks(Math.max(...allY, 1) * 1.05);
    const top = yticks[yticks.length - 1]!;
    ymap = (y) => ph - (y / top) * ph;
  }
  let s = `<g transform="translate(${ox + M.l},${M.t})">`;
  s += `<text x="${pw / 2}" y="-14" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`;
  for (const t of yticks) {
    const y = ymap(t).toFixed(1);
    s += `<line x1="0" x2="${pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`;
    s += `<text x="-6" y="${y}" dy="4" text-anchor="end" font-size="11">${fmt(t)}</text>`;
  }
  for (const x of xs) {
    const X = lx(x).toFixed(1);
    s += `<line x1="${X}" x2="${X}" y1="0" y2="${ph}" stroke="#f0f0f0"/>`;
    s += `<text x="${X}" y="${ph + 16}" text-anchor="middle" font-size="11">${fmt(x)}</text>`;
  }
  s += `<rect x="0" y="0" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`;
  s += `<text x="${pw / 2}" y="${ph + 34}" text-anchor="middle" font-size="12">connections (log scale)</text>`;
  s += `<text transform="translate(-48,${ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`;
  for (const t of p.targets) {
    const y = ymap(t.value).toFixed(1);
    s += `<line x1="0" x2="${pw}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="6,4"/>`;
    s += `<text x="${pw - 4}" y="${y}" dy="-4" text-anchor="end" font-size="10" fill="#555">${esc(t.label)}</text>`;
  }
  for (const l of p.lines) {
    const pts = l.pts.filter((q) => Number.isFinite(q[1])).sort((a, b) => a[0] - b[0]);
    if (!pts.length) continue;
    const d = pts.map((q, i) => `${i ? "L" : "M"}${lx(q[0]).toFixed(1)},${ymap(q[1]).toFixed(1)}`).join(" ");
    s += `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="2"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""}/>`;
    for (const q of pts) s += `<circle cx="${lx(q[0]).toFixed(1)}" cy="${ymap(q[1]).toFixed(1)}" r="3" fill="${l.color}"><title>${esc(l.label)}: ${fmt(q[1])} at ${q[0]} connections</title></circle>`;
  }
  return s + "</g>";
}

export function renderChart(series: ChartSeries[], opts: { title: string; subtitle?: string; targetPerS?: number; targetP99?: number }): string {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.conns)))].sort((a, b) => a - b);
  if (xs.length === 0) xs.push(1);
  const colored = series.map((s, i) => ({ ...s, color: COLORS[i % COLORS.length]! }));
  const left = panel(
    {
      title: "Delivered messages/s",
      yLabel: "messages/s",
      lines: colored.map((s) => ({ label: s.label, color: s.color, pts: s.points.map((p) => [p.conns, p.perS] as [number, number]) })),
      targets: opts.targetPerS ? [{ value: opts.targetPerS, label: `target ${fmt(opts.targetPerS)}/s at 500` }] : [],
    },
    xs,
    0,
  );
  const right = panel(
    {
      title: "Delivery latency (send to push)",
      yLabel: "ms (log scale)",
      logY: true,
      lines: colored.flatMap((s) => [
        { label: `${s.label} p99`, color: s.color, pts: s.points.map((p) => [p.conns, p.p99] as [number, number]) },
        { label: `${s.label} p50`, color: s.color, dash: "4,3", pts: s.points.map((p) => [p.conns, p.p50] as [number, number]) },
      ]),
      targets: opts.targetP99 ? [{ value: opts.targetP99, label: `target p99 ${opts.targetP99} ms` }] : [],
    },
    xs,
    W,
  );
  const legendY = H + 8;
  let legend = "";
  colored.forEach((s, i) => {
    const x = M.l + (i % 3) * 290;
    const y = legendY + Math.floor(i / 3) * 18;
    legend += `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"/>`;
    legend += `<text x="${x + 30}" y="${y}" dy="4" font-size="12">${esc(s.label)}</text>`;
  });
  const legendRows = Math.ceil(colored.length / 3);
  const noteY = legendY + legendRows * 18 + 6;
  const totalH = noteY + 16;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${totalH + 44}" viewBox="0 0 ${2 * W} ${totalH + 44}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${W}" y="16" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>` +
    `<g transform="translate(0,24)">${left}${right}</g>` +
    `<g transform="translate(0,24)">${legend}</g>` +
    `<text x="${M.l}" y="${noteY + 38}" font-size="11" fill="#444">p99 solid, p50 dashed. ${esc(opts.subtitle ?? "")}</text>` +
    `</svg>\n`
  );
}

/** Series for the chart from a results file's steps (chat and group, by node count). */
export function seriesFromSteps(
  steps: { kind: string; nodes: number; conns: number; groupSize?: number; result?: { traffic?: { deliveredPerS: number; latencyMs: { p50: number; p99: number } } } }[],
): ChartSeries[] {
  const out: ChartSeries[] = [];
  for (const kind of ["chat", "group"])
    for (const nodes of [1, 2]) {
      const mine = steps.filter((r) => r.kind === kind && r.nodes === nodes && r.result?.traffic);
      if (!mine.length) continue;
      const g = mine[0]!.groupSize;
      out.push({
        label: `${kind === "chat" ? "one-to-one" : `group of ${g}`}, ${nodes} node${nodes > 1 ? "s" : ""}`,
        points: mine.map((r) => ({ conns: r.conns, perS: r.result!.traffic!.deliveredPerS, p50: r.result!.traffic!.latencyMs.p50, p99: r.result!.traffic!.latencyMs.p99 })),
      });
    }
  return out;
}

// `bun bench/load/chart.ts results.json [out.svg]`: draws the chart again from a results file.
if (import.meta.main) {
  const [file, outFile] = process.argv.slice(2);
  if (!file) {
    console.error("usage: bun bench/load/chart.ts <load-results.json> [out.svg]");
    process.exit(2);
  }
  const r = JSON.parse(await Bun.file(file).text());
  const svg = renderChart(seriesFromSteps(r.steps), {
    title: `chat server under load (${r.machine.cores} cores, generator on the same machine, durable MariaDB)`,
    subtitle: `${r.settings.inflight} in flight per connection; ${String(r.startedAt).slice(0, 10)}, commit ${r.git.commit}`,
    targetPerS: 25_000,
    targetP99: 25,
  });
  const dest = outFile ?? file.replace(/\.json$/, ".svg");
  await Bun.write(dest, svg);
  console.log(`wrote ${dest}`);
}
