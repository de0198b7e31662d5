/**
 * What the dashboard and alert tests need of Prometheus' formats: the metric
 * names a PromQL expression reads, and the names a /metrics page exports.
 */

/** Words of PromQL that are not metric names. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);

/** The metric names `expr` reads; Grafana's `$variables` are allowed in it. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values and other strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // range and subquery durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "") // label lists
    .replace(/\$\{?\w+\}?/g, ""); // Grafana variables
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const before = bare[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // 1e3, 0.5e-2
    if (bare.slice(m.index + word.length).trimStart().startsWith("(")) continue; // a function
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Every sample name on a Prometheus text page (histograms as their _bucket, _sum and _count). */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (m) names.add(m[0]);
  }
  return names;
}

/** The value of one sample, `name{labels}` exactly as the page writes it; undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n"))
    if (line.startsWith(series) && line[series.length] === " ") return Number(line.slice(series.length + 1));
  return undefined;
}

/** The `# TYPE` of metric family `name`. */
export function typeOf(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, "m").exec(text)?.[1];
}

/** Every target expression of a Grafana dashboard, with its panel's title. */
export function dashboardExprs(dashboard: { panels?: unknown[] }): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: unknown[] | undefined) => {
    for (const p of (panels ?? []) as { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? "?", expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}
