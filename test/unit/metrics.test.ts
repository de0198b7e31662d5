/**
 * The server's /metrics page (src/server/metrics.ts) on its own: types,
 * units, counters present from the start, what the scrape reads from the
 * server's parts. Fakes for those parts; test/e2e/prometheus.test.ts checks a
 * real server's page with promtool.
 */
import { describe, expect, it } from "bun:test";
import type { PoolStats } from "../../pool/index.ts";
import { ERROR_CODES } from "../../src/protocol/errors.ts";
import { REQUESTS } from "../../src/protocol/schema.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { exportedNames, sample, typeOf } from "../support/promql.ts";

const build = { version: "9.8.7", commit: "abc1234" };

function poolStats(over: Partial<PoolStats> = {}): PoolStats {
  return {
    size: 0, idle: 0, inUse: 0, pending: 0, waiting: 0, created: 0, destroyed: 0, createErrors: 0,
    validationFailures: 0, timeouts: 0, failovers: 0, leases: 0, leaseWaitMsTotal: 0, leaseWaitMsMax: 0, leaseWaitHistogram: [],
    ...over,
  };
}

describe("a server's metrics", () => {
  it("has every request type and error code counted from the start at 0", async () => {
    const text = await new Metrics({ build }).render();
    for (const type of Object.keys(REQUESTS)) expect(sample(text, `chat_requests_total{type="${type}"}`)).toBe(0);
    for (const code of ERROR_CODES) expect(sample(text, `chat_errors_total{code="${code}"}`)).toBe(0);
    for (const type of Object.keys(REQUESTS)) expect(sample(text, `chat_request_duration_seconds_count{type="${type}"}`)).toBe(0);
    for (const name of ["chat_messages_stored_total", "chat_pushes_out_of_order_total", "chat_bus_publish_dropped_total", "chat_pool_timeouts_total", "chat_connections_total"])
      expect(sample(text, name)).toBe(0);
  });

  it("types every _total as a counter and nothing else as one, times in seconds", async () => {
    const m = new Metrics({ build });
    m.watch({ redisUp: () => true });
    const text = await m.render();
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name: name as string, type: type as string }));
    expect(families.length).toBeGreaterThan(30);
    for (const { name, type } of families) {
      // "name type" in the messages, so that a failure names the family.
      if (name.endsWith("_total")) expect(`${name} ${type}`).toBe(`${name} counter`);
      else expect(`${name} ${type}`).not.toBe(`${name} counter`);
      expect(name).not.toMatch(/_ms(_|$)|millis/);
    }
    for (const name of ["chat_pool_created_total", "chat_pool_destroyed_total", "chat_pool_timeouts_total", "chat_pool_leases_total", "chat_pool_create_errors_total"])
      expect(typeOf(text, name)).toBe("counter");
    for (const name of ["chat_request_duration_seconds", "chat_push_latency_seconds", "chat_group_commit_duration_seconds", "chat_group_commit_size"])
      expect(typeOf(text, name)).toBe("histogram");
    expect(typeOf(text, "chat_connections")).toBe("gauge");
    // Each family has a help text of its own, not its name.
    for (const [, name, help] of text.matchAll(/^# HELP (chat_\S+) (.*)$/gm)) expect(help!.length).toBeGreaterThan(name!.length / 2);
  });

  it("says which build runs in chat_build_info", async () => {
    expect(sample(await new Metrics({ build }).render(), 'chat_build_info{version="9.8.7",commit="abc1234"}')).toBe(1);
  });

  it("counts requests, errors and frames on the hot path and reports each once per scrape", async () => {
    const m = new Metrics({ build });
    for (let i = 0; i < 3; i++) m.request("send");
    m.error("not_friend");
    m.frameOut("msg");
    m.frameOut("something_new");
    let text = await m.render();
    expect(sample(text, 'chat_requests_total{type="send"}')).toBe(3);
    expect(sample(text, 'chat_requests_total{type="login"}')).toBe(0);
    expect(sample(text, 'chat_errors_total{code="not_friend"}')).toBe(1);
    expect(sample(text, 'chat_frames_out_total{type="msg"}')).toBe(1);
    expect(sample(text, 'chat_frames_out_total{type="something_new"}')).toBe(1);
    m.request("send");
    text = await m.render();
    expect(sample(text, 'chat_requests_total{type="send"}')).toBe(4);
    expect(sample(await m.render(), 'chat_requests_total{type="send"}')).toBe(4);
  });

  it("observes request durations by type, group commits and push latency in seconds", async () => {
    const m = new Metrics({ build });
    m.requestDone("send", 0.003);
    m.requestDone("send", 0.2);
    m.groupCommit(7, 0.004);
    m.pushed(Date.now() - 30);
    const text = await m.render();
    expect(sample(text, 'chat_request_duration_seconds_bucket{le="0.0025",type="send"}')).toBe(0);
    expect(sample(text, 'chat_request_duration_seconds_bucket{le="0.005",type="send"}')).toBe(1);
    expect(sample(text, 'chat_request_duration_seconds_bucket{le="+Inf",type="send"}')).toBe(2);
    expect(sample(text, 'chat_request_duration_seconds_sum{type="send"}')).toBeCloseTo(0.203, 6);
    expect(sample(text, 'chat_group_commit_size_bucket{le="5"}')).toBe(0);
    expect(sample(text, 'chat_group_commit_size_bucket{le="10"}')).toBe(1);
    expect(sample(text, "chat_group_commit_duration_seconds_sum")).toBeCloseTo(0.004, 6);
    const pushed = sample(text, "chat_push_latency_seconds_sum") as number;
    expect(pushed).toBeGreaterThanOrEqual(0.03);
    expect(pushed).toBeLessThan(5);
    expect(sample(text, 'chat_push_latency_seconds_bucket{le="0.025"}')).toBe(0);
  });

  it("counts a pushed message whose ts is ahead of this node's clock as 0 s, not negative", async () => {
    const m = new Metrics({ build });
    m.pushed(Date.now() + 60_000);
    const text = await m.render();
    expect(sample(text, "chat_push_latency_seconds_sum")).toBe(0);
    expect(sample(text, 'chat_push_latency_seconds_bucket{le="0.001"}')).toBe(1);
  });

  it("advances the pool's counters by what the pool counted since the last scrape", async () => {
    const m = new Metrics({ build });
    let stats = poolStats({ size: 4, idle: 1, inUse: 3, waiting: 2, created: 5, timeouts: 1, leases: 100, leaseWaitMsTotal: 250, leaseWaitMsMax: 40 });
    m.watch({ pool: () => stats });
    let text = await m.render();
    expect(sample(text, "chat_pool_size")).toBe(4);
    expect(sample(text, "chat_pool_in_use")).toBe(3);
    expect(sample(text, "chat_pool_waiting")).toBe(2);
    expect(sample(text, "chat_pool_created_total")).toBe(5);
    expect(sample(text, "chat_pool_timeouts_total")).toBe(1);
    expect(sample(text, "chat_pool_leases_total")).toBe(100);
    expect(sample(text, "chat_pool_lease_wait_seconds_total")).toBeCloseTo(0.25, 9);
    expect(sample(text, "chat_pool_lease_wait_max_seconds")).toBeCloseTo(0.04, 9);
    stats = poolStats({ size: 2, created: 7, timeouts: 1, leases: 150, leaseWaitMsTotal: 300 });
    text = await m.render();
    expect(sample(text, "chat_pool_size")).toBe(2);
    expect(sample(text, "chat_pool_created_total")).toBe(7);
    expect(sample(text, "chat_pool_leases_total")).toBe(150);
    expect(sample(text, "chat_pool_lease_wait_seconds_total")).toBeCloseTo(0.3, 9);
  });

  it("exports the message writer's own connections apart from the request pool's", async () => {
    const m = new Metrics({ build });
    m.watch({ pool: () => poolStats({ size: 8, timeouts: 3 }), writerPool: () => poolStats({ size: 2, inUse: 1, timeouts: 1, failovers: 1 }) });
    const text = await m.render();
    expect([sample(text, "chat_pool_size"), sample(text, "chat_pool_timeouts_total")]).toEqual([8, 3]);
    expect([sample(text, "chat_writer_pool_size"), sample(text, "chat_writer_pool_in_use"), sample(text, "chat_writer_pool_timeouts_total"), sample(text, "chat_writer_pool_failovers_total")]).toEqual([2, 1, 1, 1]);
  });

  it("reads the gauges at scrape time from the server's parts", async () => {
    const m = new Metrics({ build });
    let conns = 3;
    let mysql = true;
    m.watch({ connections: () => conns, sessions: () => 2, usersOnlineHere: () => 1, messageQueue: () => 9, mysqlUp: async () => mysql });
    let text = await m.render();
    expect([sample(text, "chat_connections"), sample(text, "chat_sessions"), sample(text, "chat_users_online_here"), sample(text, "chat_message_queue")]).toEqual([3, 2, 1, 9]);
    expect(sample(text, "chat_mysql_up")).toBe(1);
    conns = 0;
    mysql = false;
    text = await m.render();
    expect(sample(text, "chat_connections")).toBe(0);
    expect(sample(text, "chat_mysql_up")).toBe(0);
  });

  it("exports chat_redis_up only on a node with Redis", async () => {
    expect(exportedNames(await new Metrics({ build }).render()).has("chat_redis_up")).toBe(false);
    const m = new Metrics({ build });
    let up = true;
    m.watch({ redisUp: () => up });
    expect(sample(await m.render(), "chat_redis_up")).toBe(1);
    up = false;
    expect(sample(await m.render(), "chat_redis_up")).toBe(0);
  });

  it("keeps each server's series apart: no registry is shared", async () => {
    const a = new Metrics({ build });
    const b = new Metrics({ build });
    a.request("ping");
    a.connectionAccepted();
    expect(sample(await a.render(), 'chat_requests_total{type="ping"}')).toBe(1);
    expect(sample(await b.render(), 'chat_requests_total{type="ping"}')).toBe(0);
    expect(sample(await b.render(), "chat_connections_total")).toBe(0);
  });

  it("exports the process and runtime metrics that are real under Bun, and none that are not", async () => {
    const names = exportedNames(await new Metrics({ build }).render());
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes"])
      expect(names).toContain(name);
    for (const name of names) expect(name).not.toMatch(/^nodejs_(active_|heap_space_|gc_|version)/);
  });
});
