/**
 * Everything a server exports on /metrics, in one place: each series with its
 * type, unit and help text, exposed by prom-client. A server owns one
 * `Metrics` with its own registry (never prom-client's global one: tests run
 * many servers in one process); nothing here is module-level state.
 *
 * Every counter is present from the start at 0, with the label values known
 * up front (request types, error codes, frame types). Gauges that mirror
 * state kept elsewhere (connections, the pool) are read at scrape time from
 * what their owners hand to `watch()`.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { PoolStats } from "../../pool/index.ts";
import { ERROR_CODES, type ErrorCode } from "../protocol/errors.ts";
import { REQUESTS, type RequestType } from "../protocol/schema.ts";
import { commit, VERSION } from "../version.ts";
import { type Buckets, TallyHistogram, tallyCounter } from "./hot-metrics.ts";

/** What the scrape-time gauges read; each owner hands over its part with `watch()`. */
export interface Readings {
  connections(): number;
  sessions(): number;
  usersOnlineHere(): number;
  messageQueue(): number;
  /** Whether MySQL answers now (a ping at scrape time). */
  mysqlUp(): Promise<boolean>;
  /**
   * Whether the Redis bus is up. Only a clustered node has one: without it
   * `chat_redis_up` is not exported at all (absent, rather than a 1 that
   * would hide nothing or a 0 that would page someone).
   */
  redisUp?(): boolean;
  pool(): PoolStats;
  /** The message writer's own connections (src/store/server-pool.ts createWriterPool). */
  writerPool?(): PoolStats;
  /** Keys the login throttle tracks now, by scope. */
  throttleKeys(): { account: number; address: number };
}

export interface MetricsOptions {
  /** The `chat_build_info` labels. Default this build's version and commit. */
  build?: { version: string; commit: string };
}

/** Frame types the server writes (conn.ts counts each line by its type). */
const FRAME_TYPES = ["hello", "ok", "error", "msg", "presence", "friend_added", "member_joined", "member_left"] as const;

/**
 * Default collectors that report nothing true under Bun, left out: the
 * active handles/requests/resources gauges are always 0 (and their `_total`
 * twins are gauges named like counters, which `promtool check metrics`
 * rejects), JavaScriptCore has no V8 heap spaces (all but one read 0),
 * PerformanceObserver never sees a GC, and the "Node version" is the one Bun
 * imitates. process_* (CPU, memory, fds, start time), the event-loop lag and
 * the heap totals are real.
 */
const NOT_UNDER_BUN = [
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
  "nodejs_gc_duration_seconds",
  "nodejs_version_info",
];

const REQUEST_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const COMMIT_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const COMMIT_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500];
// Message timestamps are whole milliseconds: the first bucket is "under a millisecond or two".
const PUSH_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  #readings: Partial<Readings> = {};

  // Per request, frame and push: plain numbers that prom-client reads when scraped (hot-metrics.ts).
  /** A request of a known type arrived (before the rate limit). */
  readonly request: (type: RequestType) => void;
  /** An error frame went out. */
  readonly error: (code: ErrorCode) => void;
  /** A frame line was queued for a socket. */
  readonly frameOut: (type: string) => void;
  /** A publish was skipped or failed while Redis was down. */
  readonly publishDropped: () => void;

  readonly #duration = new Map<string, Buckets>();
  readonly #pushLatency: Buckets;
  readonly #commitSeconds: Histogram;
  readonly #commitSize: Histogram;
  readonly #connectionsAccepted: Counter;
  readonly #stored: Counter;
  readonly #duplicates: Counter;
  readonly #pendingAcked: Counter;
  readonly #outOfOrder: Counter;
  readonly #throttled: Counter;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of NOT_UNDER_BUN) this.registry.removeSingleMetric(name);

    const build = options.build ?? { version: VERSION, commit: commit() };
    new Gauge({ name: "chat_build_info", help: "Always 1; its labels say which build this node runs", labelNames: ["version", "commit"], registers }).set(build, 1);

    const registry = this.registry;
    this.request = tallyCounter({
      name: "chat_requests_total",
      help: "Requests received, by type (before the rate limit; frames that are not a known request are counted as errors)",
      label: "type",
      known: Object.keys(REQUESTS),
      registry,
    });
    this.error = tallyCounter({
      name: "chat_errors_total",
      help: "Error frames sent, by code: replies to requests, and notices (idle_timeout, shutting_down, too many connections from one address as rate_limited)",
      label: "code",
      known: ERROR_CODES,
      registry,
    });
    this.frameOut = tallyCounter({
      name: "chat_frames_out_total",
      help: "Frames queued for clients, by type: ok and error replies, msg pushes (live and replayed), presence and the rest",
      label: "type",
      known: FRAME_TYPES,
      registry,
    });
    const dropped = tallyCounter({ name: "chat_bus_publish_dropped_total", help: "Publishes to Redis skipped or failed while it was down (their messages stay pending in MySQL)", registry });
    this.publishDropped = () => dropped("");

    const duration = new TallyHistogram({
      name: "chat_request_duration_seconds",
      help: "Time from a request's validation to its reply, by type (the handler's time, database round trips included)",
      label: "type",
      buckets: REQUEST_SECONDS,
      registry,
    });
    for (const type of Object.keys(REQUESTS)) this.#duration.set(type, duration.series(type));
    this.#pushLatency = new TallyHistogram({
      name: "chat_push_latency_seconds",
      help: "Time from a message's ts (its sender's request, on the sending node's clock) to its push to the recipients' sessions on this node; once per message per node",
      buckets: PUSH_SECONDS,
      registry,
    }).series();
    this.#commitSeconds = new Histogram({
      name: "chat_group_commit_duration_seconds",
      help: "Time to write one group commit of messages and acks: one transaction, one fsync",
      buckets: COMMIT_SECONDS,
      registers,
    });
    this.#commitSize = new Histogram({ name: "chat_group_commit_size", help: "Messages and acks written in one group commit", buckets: COMMIT_SIZES, registers });

    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.#connectionsAccepted = counter("chat_connections_total", "Connections accepted");
    this.#stored = counter("chat_messages_stored_total", "Messages durably stored (committed)");
    this.#duplicates = counter("chat_messages_duplicate_total", "Sends answered with the message their cid already had (a client's retry), not stored again");
    this.#pendingAcked = counter("chat_pending_acked_total", "Pending deliveries removed by acks");
    this.#outOfOrder = counter(
      "chat_pushes_out_of_order_total",
      "Messages not pushed to a connection that already had a larger mid of their conversation; they stay pending for the next login",
    );

    const read = this.#readings;
    const gauge = (name: string, help: string, value: () => number | undefined | Promise<number | undefined>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set((await value()) ?? 0);
        },
      });
    gauge("chat_connections", "Connections open now", () => read.connections?.());
    gauge("chat_sessions", "Logged-in sessions on this node", () => read.sessions?.());
    gauge("chat_users_online_here", "Users with at least one session on this node", () => read.usersOnlineHere?.());
    gauge("chat_message_queue", "Messages and acks waiting for the next group commit", () => read.messageQueue?.());
    gauge("chat_mysql_up", "1 when MySQL answered a ping within 1 s at this scrape, else 0", async () => ((await read.mysqlUp?.()) ? 1 : 0));
    this.#throttled = new Counter({
      name: "chat_logins_throttled_total",
      help: "Password logins refused with rate_limited by the login throttle, by scope (account, address)",
      labelNames: ["scope"],
      registers,
    });
    for (const scope of ["account", "address"]) this.#throttled.inc({ scope }, 0);
    new Gauge({
      name: "chat_login_throttle_keys",
      help: "Accounts and addresses the login throttle keeps failure counts for now",
      labelNames: ["scope"],
      registers,
      collect() {
        const keys = read.throttleKeys?.() ?? { account: 0, address: 0 };
        this.set({ scope: "account" }, keys.account);
        this.set({ scope: "address" }, keys.address);
      },
    });
    this.#poolMetrics("chat_pool", "MySQL", () => this.#readings.pool?.());
    this.#poolMetrics("chat_writer_pool", "message writer's MySQL", () => this.#readings.writerPool?.());
  }

  /** What the gauges read; called by each owner with its part (the server, run's pool). */
  watch(readings: Partial<Readings>) {
    Object.assign(this.#readings, readings);
    if (readings.redisUp && !this.registry.getSingleMetric("chat_redis_up")) {
      const read = this.#readings;
      new Gauge({
        name: "chat_redis_up",
        help: "1 while this node's Redis connections (commands and subscriber) are both ready, else 0; absent on a single node without Redis",
        registers: [this.registry],
        collect() {
          this.set(read.redisUp?.() ? 1 : 0);
        },
      });
    }
  }

  /** A request's handler finished (either way) after `seconds`. */
  requestDone(type: RequestType, seconds: number) {
    this.#duration.get(type)?.observe(seconds);
  }

  /** A message sent at `ts` (ms since the epoch) was pushed to its recipients' sessions here. */
  pushed(ts: number) {
    this.#pushLatency.observe(Math.max(0, Date.now() - ts) / 1000);
  }

  /** A group commit of `items` messages and acks took `seconds`. */
  groupCommit(items: number, seconds: number) {
    this.#commitSize.observe(items);
    this.#commitSeconds.observe(seconds);
  }

  /** A group commit stored `stored` new messages, answered `duplicates` sends with the message their cid already had, and its acks removed `acked` pending deliveries. */
  committed(c: { stored: number; duplicates: number; acked: number }) {
    if (c.stored > 0) this.#stored.inc(c.stored);
    if (c.duplicates > 0) this.#duplicates.inc(c.duplicates);
    if (c.acked > 0) this.#pendingAcked.inc(c.acked);
  }

  connectionAccepted() {
    this.#connectionsAccepted.inc();
  }

  outOfOrder() {
    this.#outOfOrder.inc();
  }

  /** The login throttle refused a password login (rare: no hot path). */
  loginThrottled(scope: "account" | "address") {
    this.#throttled.inc({ scope });
  }

  /** The Prometheus text page. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A pool's own counts, read at scrape time: gauges for now, counters advanced by what happened since the last scrape. */
  #poolMetrics(prefix: string, what: string, stats: () => PoolStats | undefined) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, pick: (s: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = stats();
          this.set(s ? pick(s) : 0);
        },
      });
    gauge(`${prefix}_size`, `${what} connections open (idle or in use)`, (s) => s.size);
    gauge(`${prefix}_idle`, `${what} connections idle in the pool`, (s) => s.idle);
    gauge(`${prefix}_in_use`, `${what} connections leased (or being validated for a lease)`, (s) => s.inUse);
    gauge(`${prefix}_pending`, `${what} connections being opened`, (s) => s.pending);
    gauge(`${prefix}_waiting`, `Requests waiting for one of the ${what} connections`, (s) => s.waiting);
    gauge(`${prefix}_lease_wait_max_seconds`, `Longest wait for one of the ${what} connections since start`, (s) => s.leaseWaitMsMax / 1000);

    const counters: [string, string, (s: PoolStats) => number][] = [
      [`${prefix}_created_total`, `${what} connections opened`, (s) => s.created],
      [`${prefix}_destroyed_total`, `${what} connections closed (dead, broken, idle, expired, pool closed)`, (s) => s.destroyed],
      [`${prefix}_create_errors_total`, `Failed attempts to open one of the ${what} connections`, (s) => s.createErrors],
      [`${prefix}_validation_failures_total`, `${what} connections that failed the validation ping`, (s) => s.validationFailures],
      [`${prefix}_timeouts_total`, `Requests that gave up waiting for one of the ${what} connections (answered unavailable)`, (s) => s.timeouts],
      [`${prefix}_leases_total`, `${what} connections lent`, (s) => s.leases],
      [`${prefix}_failovers_total`, `Times new ${what} connections moved to another host of the --mysql list`, (s) => s.failovers],
      [`${prefix}_lease_wait_seconds_total`, `Time spent waiting for one of the ${what} connections, summed over leases`, (s) => s.leaseWaitMsTotal / 1000],
    ];
    for (const [name, help, pick] of counters) {
      let reported = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const s = stats();
          // A counter only goes up: advance it by what the pool counted since the last scrape.
          const now = s ? pick(s) : reported;
          if (now > reported) {
            this.inc(now - reported);
            reported = now;
          }
        },
      });
    }
  }
}
