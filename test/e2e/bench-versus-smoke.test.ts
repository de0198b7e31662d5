/**
 * The side-by-side benchmark end to end, tiny and without the C++ server
 * (its binary is never part of this repository): our server alone, the
 * ping-pong method, about a second. Not a speed check.
 */
import { afterAll, expect, it } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase } from "../support/db.ts";

const ROOT = `${import.meta.dir}/../..`;
const out = mkdtempSync(join(tmpdir(), "chat-versus-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("ping-pongs one-to-one messages between pairs, acks every push and reports each process's CPU per message", async () => {
  const mysql = await freshDatabase();
  const child = Bun.spawn(
    [process.execPath, `${ROOT}/bench/versus.ts`, "--only=ours", "--conns=6", "--repeat=1", "--duration=1", "--warmup=0.3", "--sources=0", `--mysql=${mysql}`, `--out=${out}`],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) console.error(stdout, stderr);
  expect(code).toBe(0);
  expect(stdout).toContain("delivered/s");
  const file = readdirSync(out).find((f) => f.startsWith("versus-") && f.endsWith(".json")) as string;
  const r = JSON.parse(readFileSync(join(out, file), "utf8"));
  expect(r.rows).toHaveLength(1);
  const [row] = r.rows;
  expect(row.server).toBe("ours");
  expect(row.deliveredPerS).toBeGreaterThan(0);
  expect(row.latencyMs.p50).toBeGreaterThan(0);
  expect(row.latencyMs.p99).toBeGreaterThanOrEqual(row.latencyMs.p50);
  expect(row.cpuUsPerMsg.server).toBeGreaterThan(0);
  expect(row.cpuUsPerMsg.generator).toBeGreaterThan(0);
  expect(Object.keys(row.errors).filter((k) => !k.endsWith(":unavailable"))).toEqual([]);
});
