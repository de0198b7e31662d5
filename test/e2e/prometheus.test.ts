/**
 * What Prometheus and Grafana get from a real server process (with MariaDB
 * and Redis) after some traffic: a /metrics page that `promtool check metrics`
 * accepts, counting what the traffic did; alert rules that `promtool` accepts
 * and that fire on their outages; a dashboard that asks only for series the
 * server exports.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { commit, VERSION } from "../../src/version.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { dashboardExprs, exportedNames, metricNames, sample, typeOf } from "../support/promql.ts";
import { Wire } from "../support/wire.ts";

const DEPLOY = `${import.meta.dir}/../../deploy`;
const DIRECT = 12;
const GROUP = 5;

let node: NodeProcess;
/** /metrics of the fresh node, and after the traffic below. */
let before: string;
let after: string;

async function scrape(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${node.adminPort}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return r.text();
}

/** Runs promtool with `args`, `input` on its stdin; its exit code and output. */
async function promtool(args: string[], input = ""): Promise<{ code: number; out: string }> {
  if (!Bun.which("promtool")) throw new Error("promtool not found: `sh scripts/bootstrap.sh test` installs it (Debian package prometheus)");
  const p = Bun.spawn(["promtool", ...args], { stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

async function login(name: string): Promise<{ w: Wire; id: number }> {
  const w = await Wire.connect(node.port);
  const r = await w.req({ type: "register", name, password: "password-1" });
  const login = await w.ok({ type: "login", name, password: "password-1" });
  expect(r.type === "ok" || r.code === "name_taken").toBe(true);
  return { w, id: login.user.id };
}

beforeAll(async () => {
  node = await spawnNode({ node: "prom1", mysqlUrl: await freshDatabase(), redisUrl: redisUrl() });
  before = await scrape();

  const alice = await login("prom_alice");
  const alice2 = await Wire.connect(node.port);
  await alice2.ok({ type: "login", name: "prom_alice", password: "password-1" });
  const bob = await login("prom_bob");
  const carol = await login("prom_carol");
  await alice.w.ok({ type: "add_friend", user: bob.id });
  // Direct messages: bob gets each, and alice's other session a copy.
  for (let i = 0; i < DIRECT; i++) {
    const { mid } = await alice.w.ok({ type: "send", to: bob.id, text: `hello ${i}` });
    await bob.w.push("msg", (f) => f.mid === mid);
    await alice2.push("msg", (f) => f.mid === mid);
    await bob.w.ok({ type: "ack", mids: [mid] });
  }
  const { group } = await alice.w.ok({ type: "create_group", name: "prom_group" });
  await bob.w.ok({ type: "join_group", group: group.id });
  await carol.w.ok({ type: "join_group", group: group.id });
  for (let i = 0; i < GROUP; i++) {
    const { mid } = await alice.w.ok({ type: "group_send", group: group.id, text: `all ${i}` });
    await Promise.all([bob.w, carol.w, alice2].map((w) => w.push("msg", (f) => f.mid === mid)));
  }
  await bob.w.ok({ type: "history", with: alice.id });
  // Errors of three kinds.
  expect((await carol.w.req({ type: "send", to: alice.id, text: "not friends" })).code).toBe("not_friend");
  expect((await carol.w.req({ type: "no_such_op" })).code).toBe("unknown_type");
  carol.w.write("{not json\n");
  await carol.w.next((f) => f.type === "error" && f.code === "bad_frame");
  after = await scrape();
});

afterAll(async () => {
  await node?.kill();
});

describe("/metrics of a running server", () => {
  it("passes promtool check metrics, fresh and after traffic", async () => {
    for (const text of [before, after]) {
      const r = await promtool(["check", "metrics"], text);
      expect(r.out).toBe("");
      expect(r.code).toBe(0);
    }
  });

  it("has its counters from the start at 0, typed as counters", () => {
    for (const series of ['chat_requests_total{type="group_send"}', 'chat_errors_total{code="internal"}', "chat_pool_timeouts_total", "chat_pushes_out_of_order_total", "chat_bus_publish_dropped_total", "chat_messages_stored_total"])
      expect({ series, value: sample(before, series) }).toEqual({ series, value: 0 });
    for (const name of ["chat_pool_created_total", "chat_pool_destroyed_total", "chat_pool_timeouts_total", "chat_pool_leases_total", "chat_pool_create_errors_total", "chat_requests_total"])
      expect(typeOf(after, name)).toBe("counter");
  });

  it("counts the traffic: requests, their durations, messages, group commits, errors", () => {
    expect(sample(after, 'chat_requests_total{type="send"}')).toBe(DIRECT + 1);
    expect(sample(after, 'chat_request_duration_seconds_count{type="send"}')).toBe(DIRECT + 1);
    expect(sample(after, 'chat_request_duration_seconds_count{type="group_send"}')).toBe(GROUP);
    expect(sample(after, 'chat_request_duration_seconds_count{type="ack"}')).toBe(DIRECT);
    expect(sample(after, 'chat_request_duration_seconds_sum{type="login"}')).toBeGreaterThan(0);
    expect(sample(after, "chat_messages_stored_total")).toBe(DIRECT + GROUP);
    expect(sample(after, "chat_pending_acked_total")).toBe(DIRECT);
    // Sizes add up to every message and ack written, however they were batched.
    expect(sample(after, "chat_group_commit_size_sum")).toBe(DIRECT + GROUP + DIRECT);
    expect(sample(after, "chat_group_commit_duration_seconds_count")).toBe(sample(after, "chat_group_commit_size_count"));
    expect(sample(after, "chat_group_commit_duration_seconds_sum")).toBeGreaterThan(0);
    // bob and alice's other session for each direct message; three sessions for each group message.
    expect(sample(after, 'chat_frames_out_total{type="msg"}')).toBe(2 * DIRECT + 3 * GROUP);
    expect(sample(after, 'chat_errors_total{code="not_friend"}')).toBe(1);
    expect(sample(after, 'chat_errors_total{code="unknown_type"}')).toBe(1);
    expect(sample(after, 'chat_errors_total{code="bad_frame"}')).toBe(1);
    expect(sample(after, "chat_connections_total")).toBe(4);
    expect(sample(after, "chat_sessions")).toBe(4);
    expect(sample(after, "chat_users_online_here")).toBe(3);
    expect(sample(after, "chat_pool_leases_total")).toBeGreaterThan(DIRECT);
  });

  it("times each message from send to push once on this node, however many sessions got it", () => {
    expect(sample(after, "chat_push_latency_seconds_count")).toBe(DIRECT + GROUP);
    const sum = sample(after, "chat_push_latency_seconds_sum") as number;
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum / (DIRECT + GROUP)).toBeLessThan(2);
  });

  it("says its build, that MySQL and Redis are up, and exports process metrics", () => {
    expect(sample(after, `chat_build_info{version="${VERSION}",commit="${commit()}"}`)).toBe(1);
    expect(sample(after, "chat_mysql_up")).toBe(1);
    expect(sample(after, "chat_redis_up")).toBe(1);
    expect(sample(after, "process_resident_memory_bytes")).toBeGreaterThan(1e6);
    expect(sample(after, "process_cpu_seconds_total")).toBeGreaterThan(0);
  });
});

describe("the dashboard and the alert rules (deploy/)", () => {
  const dashboard = JSON.parse(readFileSync(`${DEPLOY}/grafana/chat-dashboard.json`, "utf8"));
  const alerts = Bun.YAML.parse(readFileSync(`${DEPLOY}/prometheus/chat-alerts.yml`, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const rules = alerts.groups.flatMap((g) => g.rules);

  it("has alert rules that promtool accepts, and that fire on their outages and only then", async () => {
    const check = await promtool(["check", "rules", `${DEPLOY}/prometheus/chat-alerts.yml`]);
    expect(check.out).toContain("SUCCESS");
    expect(check.code).toBe(0);
    const test = await promtool(["test", "rules", `${DEPLOY}/prometheus/chat-alerts.test.yml`]);
    expect(test.out).toContain("SUCCESS");
    expect(test.code).toBe(0);
    expect(rules.map((r) => r.alert).sort()).toEqual(["ChatErrorRate", "ChatMySQLDown", "ChatNodeNotScraped", "ChatPoolTimeouts", "ChatPublishDrops", "ChatRedisDown", "ChatWriterPoolTimeouts"]);
  });

  it("asks, in every dashboard query and alert, only for series this server exports", () => {
    const exported = exportedNames(after);
    const queries = dashboardExprs(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const missing = queries.flatMap(({ panel, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${panel}: ${n}`));
    expect(missing).toEqual([]);
    // `up` is Prometheus' own series for each scrape.
    const unknown = rules.flatMap((r) => metricNames(r.expr).filter((n) => n !== "up" && !exported.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it("has dashboard queries that are valid PromQL", async () => {
    // promtool parses recording rules: each query becomes one, with Grafana's variables filled in.
    const dir = mkdtempSync(`${tmpdir()}/chat-dashboard-`);
    try {
      const file = `${dir}/queries.yml`;
      const ruleLines = dashboardExprs(dashboard).map(
        ({ expr }, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*"))}`,
      );
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${ruleLines.join("\n")}\n`);
      const r = await promtool(["check", "rules", file]);
      expect(r.out).toContain(`SUCCESS: ${ruleLines.length} rules found`);
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
