/**
 * No SQL built from values: every SQL statement lives in src/store/ (or the
 * pool and migrations), and the only things spliced into its text are
 * placeholder lists and constant column lists. Values go in as parameters.
 */
import { describe, expect, it } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";

const ROOT = `${import.meta.dir}/../..`;
const SQL = /\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|REPLACE\s+INTO)\b/;
/**
 * Interpolations allowed inside SQL text: placeholder lists (marks(n),
 * "?,".repeat(n), variables named placeholder*, built from those) and
 * module constants named in capitals (COLUMNS, a JSON_TABLE's column list):
 * SQL fragments fixed when the module loads, never values.
 */
const SAFE_INTERPOLATION = /^\$\{(marks\([^)]*\)|[A-Z][A-Z0-9_]*|placeholder\w*|"\?,"\.repeat\([^)]*\))\}$/;

function sources(pattern: string): string[] {
  return [...new Glob(pattern).scanSync({ cwd: ROOT })].filter((f) => !f.includes("node_modules"));
}

/** Statements (roughly: from an SQL keyword to the end of the call) that splice something unsafe. */
function unsafeSplices(text: string): string[] {
  const found: string[] = [];
  // Template literals containing SQL.
  for (const m of text.matchAll(/`[^`]*`/g)) {
    if (!SQL.test(m[0])) continue;
    for (const i of m[0].matchAll(/\$\{[^}]*\}/g)) if (!SAFE_INTERPOLATION.test(i[0])) found.push(`${i[0]} in ${m[0].slice(0, 60)}`);
  }
  // String concatenation onto SQL: "... WHERE x = " + value
  for (const m of text.matchAll(/(["'])((?:(?!\1).)*)\1\s*\+\s*([^\s;,)]+)/g)) {
    if (!SQL.test(m[2] as string)) continue;
    const next = m[3] as string;
    if (/^["'`]/.test(next) || /^"\(\?(,\?)*\)(,)?"\.repeat/.test(next)) continue;
    found.push(`+ ${next} after "${(m[2] as string).slice(0, 50)}"`);
  }
  return found;
}

describe("SQL", () => {
  it("appears in no server file outside the store", () => {
    const offenders = sources("src/**/*.ts")
      .filter((f) => !f.startsWith("src/store/"))
      // The clients have no database, and their words read like SQL (`delete <mid>`, "Delete this message?").
      .filter((f) => !f.startsWith("src/client/") && !f.startsWith("src/web/"))
      .filter((f) => {
        const text = readFileSync(`${ROOT}/${f}`, "utf8");
        return [...text.matchAll(/(["'`])((?:(?!\1).)*)\1/g)].some((m) => /^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE)\s/i.test(m[2] as string));
      });
    expect(offenders).toEqual([]);
  });

  it("is never built by concatenating values", () => {
    const report: string[] = [];
    const files = [...sources("src/**/*.ts"), ...sources("pool/**/*.ts"), ...sources("sql/**/*.ts")];
    expect(files).toContain("src/store/messages.ts");
    for (const f of files) {
      const text = readFileSync(`${ROOT}/${f}`, "utf8");
      for (const s of unsafeSplices(text)) report.push(`${f}: ${s}`);
    }
    expect(report).toEqual([]);
  });

  it("catches the references' mistake when it is made", () => {
    expect(unsafeSplices('query("SELECT * FROM users WHERE name = \'" + name + "\'")')).not.toEqual([]);
    expect(unsafeSplices("query(`SELECT * FROM users WHERE id = ${id}`)")).not.toEqual([]);
    expect(unsafeSplices("query(`SELECT id FROM users WHERE id IN (${marks(ids.length)})`, ids)")).toEqual([]);
  });
});
