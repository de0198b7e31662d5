/** Where a benchmark's results go: bench/results/<kind>-<timestamp>.json, and <kind>-latest.json beside it. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

/** A run's start as it appears in file names: 2026-12-01T16-15-12-201Z. */
export const stampOf = (at: number): string => new Date(at).toISOString().replace(/[:.]/g, "-");

/** Writes `data` as `<dir>/<kind>-<stamp>.json` and `<kind>-latest.json`; returns the first, relative to the working folder. */
export function writeResults(dir: string, kind: string, at: number, data: unknown): string {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const file = join(out, `${kind}-${stampOf(at)}.json`);
  writeFileSync(file, text);
  writeFileSync(join(out, `${kind}-latest.json`), text);
  return relative(process.cwd(), file);
}
