/**
 * The conversations benchmark end to end, tiny: it seeds its database, starts
 * a server, logs in, lists and pages, checks the counts it seeded and writes
 * its JSON. Not a speed check: timed tests make no speed claims.
 */
import { afterAll, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mysqlUrl } from "../support/db.ts";

const ROOT = `${import.meta.dir}/../..`;
const out = mkdtempSync(join(tmpdir(), "chat-conversations-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("lists a seeded user's conversations page by page with the unread and pending counts it seeded", async () => {
  const child = Bun.spawn(
    [
      process.execPath,
      `${ROOT}/bench/conversations.ts`,
      "--friends=7",
      "--groups=3",
      "--messages=4",
      "--group-members=2",
      "--requests=6",
      "--logins=2",
      "--warmup=1",
      `--mysql=${mysqlUrl()}`,
      `--out=${out}`,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) console.error(stdout, stderr);
  expect(code).toBe(0);
  expect(stdout).toContain("p99 ms");
  const latest = join(out, "conversations-latest.json");
  expect(existsSync(latest)).toBe(true);
  const r = JSON.parse(readFileSync(latest, "utf8"));
  expect(r.seeded.conversations).toBe(10);
  expect(r.login.right).toBe(true);
  expect(r.login.reply.unread).toBe(r.seeded.unread);
  expect(r.seeded.unread).toBeGreaterThan(0);
  expect(r.login.reply.pending).toBe(r.seeded.pending);
  expect(r.seeded.pending).toBeGreaterThan(0);
  expect(r.pages).toMatchObject({ walked: 10, right: true, perWalk: 1 });
  expect(r.conversations.map((c: { name: string }) => c.name)).toEqual(["limit 50, first page", "limit 100, first page", "all, limit 100 per page (one walk)"]);
  for (const c of r.conversations) expect(c.ms.p50).toBeGreaterThan(0);
}, 60_000);
