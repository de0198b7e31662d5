/** Plain-text tables for benchmark output. */

/** Formats rows as aligned columns; numbers right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: Array<string | number>, isHeader = false) =>
    r
      .map((c, i) => {
        const s = String(c ?? "");
        return !isHeader && typeof rows[0]?.[i] === "number" ? s.padStart(widths[i]!) : s.padEnd(widths[i]!);
      })
      .join("  ")
      .trimEnd();
  return [line(cells[0]!, true), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map((r) => line(r))].join("\n");
}

/** 3 significant digits, thousands separated for large numbers. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1000) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
