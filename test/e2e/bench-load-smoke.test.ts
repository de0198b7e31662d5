/**
 * The load benchmark end to end, tiny: `bun bench/load.ts` against a fresh
 * database with a few connections for about a second. It must start its own
 * server, deliver messages with latencies, stop by itself and write its JSON
 * and chart. Not a speed check: timed tests make no speed claims.
 */
import { afterAll, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase } from "../support/db.ts";

const ROOT = `${import.meta.dir}/../..`;
const out = mkdtempSync(join(tmpdir(), "chat-load-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("runs a small chat and group load, delivers messages and writes its results", async () => {
  const mysql = await freshDatabase();
  const child = Bun.spawn(
    [
      process.execPath,
      `${ROOT}/bench/load.ts`,
      "--scenarios=chat,group",
      "--nodes=1",
      "--conns=10",
      "--group-conns=6",
      "--group-size=3",
      "--duration=1",
      "--warmup=0.2",
      "--max-time=60",
      `--mysql=${mysql}`,
      `--out=${out}`,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) console.error(stdout, stderr);
  expect(code).toBe(0);
  expect(stdout).toContain("msgs/s");

  const latest = join(out, "load-latest.json");
  expect(existsSync(latest)).toBe(true);
  expect(existsSync(join(out, "load-latest.svg"))).toBe(true);
  const r = JSON.parse(readFileSync(latest, "utf8"));
  expect(r.steps).toHaveLength(2);
  for (const step of r.steps) {
    expect(step.error).toBeUndefined();
    expect(step.result.connect.ok).toBe(step.conns);
    const t = step.result.traffic;
    expect(t.delivered).toBeGreaterThan(0);
    expect(t.deliveredPerS).toBeGreaterThan(0);
    expect(t.latencyMs.p50).toBeGreaterThan(0);
    expect(t.latencyMs.p99).toBeGreaterThanOrEqual(t.latencyMs.p50);
    expect(step.servers[0].rssMB).toBeGreaterThan(0);
    // Any error but `unavailable` fails the test; `unavailable` is the server's answer to a
    // transient database failure (a lock deadlock between group commits), not the generator's fault.
    expect(Object.keys(step.result.errors).filter((k) => !k.endsWith(":unavailable"))).toEqual([]);
  }
  const [chat, group] = r.steps;
  expect(chat.kind).toBe("chat");
  expect(group.kind).toBe("group");
  // each group message reaches the two other members
  expect(group.result.traffic.deliveredPerS).toBeGreaterThan(group.result.traffic.okPerS);
  // the server process the benchmark started is gone
  for (const step of r.steps) for (const s of step.servers) expect(existsSync(`/proc/${s.pid}`)).toBe(false);
}, 90_000);

it("runs the group sizes online and offline, making small groups through the protocol and larger ones with SQL", async () => {
  const mysql = await freshDatabase();
  const dir = join(out, "sizes");
  const child = Bun.spawn(
    [
      process.execPath,
      `${ROOT}/bench/load.ts`,
      "--group-sizes=3,8",
      "--online-conns=6",
      "--online-senders=2",
      "--offline-senders=2",
      "--sql-members-above=4",
      "--duration=1",
      "--warmup=0.2",
      "--max-time=60",
      `--mysql=${mysql}`,
      `--out=${dir}`,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) console.error(stdout, stderr);
  expect(code).toBe(0);
  expect(stdout).toContain("group sizes:");

  const r = JSON.parse(readFileSync(join(dir, "load-latest.json"), "utf8"));
  const steps = r.steps.map((s: any) => `${s.size.members} ${s.size.mode} ${s.conns} ${s.sizeSetup.via}`);
  // 6 online connections hold two groups of 3; a group of 8 online is one group of 8; offline: 2 senders connected.
  expect(steps).toEqual(["3 online 6 protocol", "3 offline 2 protocol", "8 online 8 sql", "8 offline 2 sql"]);
  for (const step of r.steps) {
    expect(step.error).toBeUndefined();
    expect(Object.keys(step.result.errors).filter((k) => !k.endsWith(":unavailable"))).toEqual([]);
    const t = step.result.traffic;
    expect(t.okPerS).toBeGreaterThan(0);
    // Each message reaches every other connected member: the whole group online, the other sender offline.
    expect(t.delivered).toBeGreaterThan(0);
  }
  // Online, 2 of 3 (or of 8) members send and every other member receives: more deliveries than sends.
  const online8 = r.steps[2].result.traffic;
  expect(online8.deliveredPerS).toBeGreaterThan(online8.okPerS * 5);
  // The SQL-made members are members the server knows: they logged in and got the group's messages.
  expect(r.steps[2].result.login.ok).toBe(8);
  expect(r.targets.map((t: any) => t.target)).toContain("group of 1,000, members offline: messages/s stored >= 80% of a group of 10's");
}, 90_000);
