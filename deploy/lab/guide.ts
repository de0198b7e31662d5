/**
 * The deploy guide's own text, for the lab and the tests that follow it: a
 * code block of deploy/README.md marked `<!-- guide:NAME -->` on the line
 * before its fence, with the guide's example addresses and passwords
 * replaced. What runs is what an operator copies, so the guide cannot drift
 * from what is checked.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const GUIDE = resolve(import.meta.dir, "../README.md");

/** The text of the code block after `<!-- guide:NAME -->`, without its fences and its list indentation. */
export function guideBlock(name: string, guide = readFileSync(GUIDE, "utf8")): string {
  const marker = `<!-- guide:${name} -->`;
  const at = guide.indexOf(marker);
  if (at < 0) throw new Error(`deploy/README.md has no block marked ${marker}`);
  const m = guide.slice(at + marker.length).match(/^\s*\n([ \t]*)(`{3,})[^\n]*\n([\s\S]*?)\n[ \t]*\2[ \t]*(\n|$)/);
  if (!m) throw new Error(`${marker} in deploy/README.md is not followed by a fenced code block`);
  const indent = m[1]!;
  return m[3]!
    .split("\n")
    .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
    .join("\n");
}

/**
 * Replaces each key of `values` by its value, every occurrence. A key that
 * does not occur is an error: the guide changed and whoever follows it here
 * must change with it.
 */
export function fill(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [key, value] of Object.entries(values)) {
    if (!out.includes(key)) throw new Error(`the guide's block no longer contains ${JSON.stringify(key)}`);
    out = out.split(key).join(value);
  }
  return out;
}
