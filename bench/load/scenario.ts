/**
 * One benchmark step against running servers: connect N clients (spread over
 * loopback source addresses), log them in (registering users the first time),
 * make friends or groups, then either chat closed-loop for a measured window
 * or hold the connections idle.
 *
 * Closed loop: each connection keeps `inflight` messages in the system; a slot
 * frees when the sender has its `ok` AND every recipient has the push, so a
 * slow delivery path (Redis between nodes) slows the senders instead of piling
 * up. Delivery latency is push arrival minus send time, both taken here with
 * performance.now(); the send time and the sender travel in the text.
 */
import { Counter, type LatencySummary, Samples, r2 } from "./stats.ts";
import { type Frame, LoadWire, type LoadWireHandlers } from "../../test/support/load-wire.ts";
import { timedOut, waitUntil } from "../../test/support/wait.ts";

export interface Target {
  host: string;
  port: number;
  node: string;
}

export type Kind = "chat" | "group" | "idle";

export interface StepConfig {
  kind: Kind;
  conns: number;
  /** connection i goes to targets[i % targets.length] */
  targets: Target[];
  /** how many loopback source addresses (127.0.0.2 ...) the connections spread over */
  sources: number;
  /** user names are `${prefix}${i}` */
  prefix: string;
  password: string;
  /** messages in flight per connection (chat, group) */
  inflight: number;
  /**
   * chat: "closed" (default) keeps `inflight` messages per connection;
   * "pingpong" keeps one per pair: the first of each pair sends, and each
   * push is acked at once and answered by its recipient with the next
   * message, in one write (bench/versus.ts: the method the C++ reference
   * server is measured with).
   */
  pattern?: "closed" | "pingpong";
  /** members per group (group) */
  groupSize: number;
  /**
   * group: members of each group that connect (default all); the others are
   * members that stay offline (bench/load/members.ts makes them). Connection
   * i is member i % connectedPerGroup of group i / connectedPerGroup, user
   * `${prefix}${group * groupSize + member}`.
   */
  connectedPerGroup?: number;
  /** group: connected members of each group that send (default all); the rest only receive and ack */
  sendersPerGroup?: number;
  /** recipients ack what arrived every this many ms (and at 1000 mids) */
  ackMs: number;
  warmupS: number;
  durationS: number;
  /** longest wait for in-flight messages after the window */
  drainS: number;
  /** idle: log in too (otherwise only connect) */
  login: boolean;
  /** idle: how long to hold the connections */
  holdS: number;
  /** connects and logins at once */
  connectConcurrency: number;
  loginConcurrency: number;
  /** absolute time (Date.now) past which everything gives up */
  deadline: number;
  log: (msg: string) => void;
  /** around the measured window: the caller samples servers there */
  hooks: {
    beforeConnect(): Promise<void>;
    measureStart(): Promise<void>;
    measureEnd(): Promise<void>;
  };
}

export interface StepResult {
  connect: { ok: number; failed: number; perS: number; ms: number };
  login: { ok: number; failed: number; perS: number; attemptsPerS: number; ms: number; registered: number };
  setup: { friendsAdded: number; groupsCreated: number; joined: number; replayed: number; ms: number };
  traffic?: {
    windowS: number;
    sent: number;
    ok: number;
    okPerS: number;
    delivered: number;
    deliveredPerS: number;
    latencyMs: LatencySummary;
    /** messages from earlier runs pushed at login (acked, not counted) */
    foreign: number;
    ackRequests: number;
    ackedMids: number;
    /** messages still in flight when the drain wait ended */
    undrained: number;
    /** delivered/s and the slowest delivery per bucket of the window: stalls show here */
    timeline: { bucketMs: number; perS: number[]; maxLatencyMs: number[] };
  };
  idle?: { heldS: number; open: number };
  errors: Record<string, number>;
}

interface Rec {
  ok: boolean;
  need: number;
}

class ConnState {
  user = 0;
  friends = new Set<number>();
  groups = new Map<string, number>(); // name -> id
  pending = 0;
  replayed = 0;
  /** chat: the peer's user id; group: the group id */
  dest = 0;
  /** deliveries each message needs */
  need = 1;
  /** whether this connection sends (group members that only receive do not) */
  sends = true;
  out = 0;
  recs = new Map<number, Rec>();
  acks: number[] = [];
  ackQueued = false;
}

const st = (w: LoadWire) => w.state as ConnState;

/** Runs fn(i) for i in [0, n) with at most `limit` at once; stops starting new ones after the deadline. */
async function mapLimit(n: number, limit: number, deadline: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/**
 * Waits until cond() or the time is up (polling every 20 ms, never past the
 * step's deadline). Running out is not an error here: the step goes on and
 * reports what was left (undrained messages, acks still out).
 */
async function settle(what: string, cond: () => boolean, ms: number, deadline: number): Promise<void> {
  await waitUntil(what, cond, Math.max(0, Math.min(ms, deadline - Date.now())), { everyMs: 20 }).catch(timedOut);
}

export async function runStep(cfg: StepConfig): Promise<StepResult> {
  const errors = new Counter();
  const tag = Math.random().toString(36).slice(2, 8);
  const tagDot = `${tag}.`;
  const wires: (LoadWire | undefined)[] = new Array(cfg.conns);
  const latencies = new Samples();

  // ---- traffic state ----
  const TIMELINE_MS = 250;
  const timelineCount: number[] = new Array(Math.ceil((cfg.durationS * 1000) / TIMELINE_MS) + 1).fill(0);
  const timelineMax: number[] = new Array(timelineCount.length).fill(0);
  let windowStart = 0;
  let running = false;
  let measuring = false;
  let sent = 0;
  let okTotal = 0;
  let okWindow = 0;
  let deliveredWindow = 0;
  let foreign = 0;
  let ackRequests = 0;
  let ackedMids = 0;
  let acksOut = 0;
  let ackDirty: ConnState[] = [];
  const byState = new Map<ConnState, LoadWire>();
  const isGroup = cfg.kind === "group";
  const pingpong = cfg.kind === "chat" && cfg.pattern === "pingpong";
  const G = cfg.groupSize;
  const connected = isGroup ? Math.max(1, Math.min(G, cfg.connectedPerGroup ?? G)) : 1;
  const senders = Math.max(1, Math.min(connected, cfg.sendersPerGroup ?? connected));
  /** The user behind connection i (group: its group's members are consecutive users, the offline ones included). */
  const userOf = (i: number) => (isGroup ? Math.floor(i / connected) * G + (i % connected) : i);

  const complete = (w: LoadWire, s: ConnState, id: number) => {
    s.recs.delete(id);
    s.out--;
    if (running) pump(w, s);
  };

  const sendOne = (w: LoadWire, s: ConnState) => {
    const id = w.nextId();
    const text = `${tag}.${w.index}.${id}.${Math.round(performance.now() * 1000)}`;
    w.write(
      isGroup
        ? `{"type":"group_send","id":${id},"group":${s.dest},"text":"${text}"}\n`
        : `{"type":"send","id":${id},"to":${s.dest},"text":"${text}"}\n`,
    );
    s.recs.set(id, { ok: false, need: s.need });
    s.out++;
    sent++;
  };

  const pump = (w: LoadWire, s: ConnState) => {
    if (pingpong) return; // the next message is the answer to a push
    // Acks waiting on this connection ride along in the same write as the send
    // (the batching timer still bounds their delay): fewer syscalls on both sides.
    if (s.acks.length > 0 && running && s.out < cfg.inflight) sendAcks(w, s);
    while (running && s.sends && s.out < cfg.inflight && !w.closed) sendOne(w, s);
  };

  const sendAcks = (w: LoadWire, s: ConnState) => {
    s.ackQueued = false;
    while (s.acks.length > 0) {
      const mids = s.acks.length <= 1000 ? s.acks : s.acks.slice(0, 1000);
      s.acks = mids === s.acks ? [] : s.acks.slice(1000);
      w.write(`{"type":"ack","id":${w.nextId()},"mids":[${mids.join(",")}]}\n`);
      ackRequests++;
      ackedMids += mids.length;
      acksOut++;
    }
  };
  const flushAcks = () => {
    const list = ackDirty;
    ackDirty = [];
    for (const s of list) {
      const w = byState.get(s);
      if (w && !w.closed) sendAcks(w, s);
      else s.ackQueued = false;
    }
  };
  const ackTimer = setInterval(flushAcks, cfg.ackMs > 0 ? cfg.ackMs : 10);

  const handlers: LoadWireHandlers = {
    push(w, f) {
      if (f.type !== "msg") return; // presence, friend_added, member_joined: not measured
      const s = st(w);
      if (cfg.ackMs > 0 || !running) s.acks.push(f.mid); // --ack-ms 0: no acks while measuring (diagnosis only)
      if (s.acks.length > 0 && !s.ackQueued) {
        s.ackQueued = true;
        ackDirty.push(s);
      }
      if (s.acks.length >= 1000) sendAcks(w, s);
      const text: string = f.text;
      if (typeof text !== "string" || !text.startsWith(tagDot)) {
        foreign++;
        s.replayed++;
        return;
      }
      const now = performance.now();
      const parts = text.split(".");
      const t = Number(parts[3]) / 1000;
      if (measuring) {
        deliveredWindow++;
        const lat = now - t;
        latencies.add(lat);
        const b = Math.floor((now - windowStart) / TIMELINE_MS);
        if (b >= 0 && b < timelineCount.length) {
          timelineCount[b]!++;
          if (lat > timelineMax[b]!) timelineMax[b] = lat;
        }
      }
      if (pingpong && running && !w.closed) {
        sendAcks(w, s); // the ack and the answer leave in one write
        sendOne(w, s);
      }
      const sw = wires[Number(parts[1])];
      if (!sw) return;
      const ss = st(sw);
      const id = Number(parts[2]);
      const rec = ss.recs.get(id);
      if (rec && --rec.need <= 0 && rec.ok) complete(sw, ss, id);
    },
    reply(w, f) {
      const s = st(w);
      const rec = s.recs.get(f.re);
      if (!rec) {
        // an ack's reply
        acksOut--;
        if (f.type === "error") errors.add(`ack:${f.code}`);
        return;
      }
      if (f.type === "error") {
        errors.add(`${isGroup ? "group_send" : "send"}:${f.code}`);
        complete(w, s, f.re);
        return;
      }
      okTotal++;
      if (measuring) okWindow++;
      rec.ok = true;
      if (rec.need <= 0) complete(w, s, f.re);
    },
    closed(w, error) {
      // Closing at the end is ours; any other close is an error to report.
      if (!closing) errors.add(`closed:${short(error?.message ?? "closed")}`);
      void w;
    },
  };
  let closing = false;

  const result: StepResult = {
    connect: { ok: 0, failed: 0, perS: 0, ms: 0 },
    login: { ok: 0, failed: 0, perS: 0, attemptsPerS: 0, ms: 0, registered: 0 },
    setup: { friendsAdded: 0, groupsCreated: 0, joined: 0, replayed: 0, ms: 0 },
    errors: {},
  };

  // The server closes connections silent for 90 s: a long login phase (large groups) must not lose the first ones.
  const keepalive = setInterval(() => {
    for (const w of wires) if (w && !w.closed) w.request("ping").catch(() => {}); // a lost ping shows as the connection's close
  }, 20_000);
  try {
    await cfg.hooks.beforeConnect();

    // ---- connect ----
    let t0 = performance.now();
    await mapLimit(cfg.conns, cfg.connectConcurrency, cfg.deadline, async (i) => {
      const target = cfg.targets[i % cfg.targets.length]!;
      const loopback = target.host.startsWith("127.");
      try {
        const w = await LoadWire.open(
          { host: target.host, port: target.port, localAddress: loopback && cfg.sources > 0 ? `127.0.0.${2 + (i % cfg.sources)}` : undefined },
          i,
          handlers,
        );
        w.state = new ConnState();
        byState.set(w.state, w);
        wires[i] = w;
        result.connect.ok++;
      } catch (e) {
        result.connect.failed++;
        errors.add(`connect:${short((e as Error).message)}`);
      }
    });
    result.connect.ms = r2(performance.now() - t0);
    result.connect.perS = Math.round((result.connect.ok * 1000) / result.connect.ms);
    cfg.log(`  connected ${result.connect.ok}/${cfg.conns} in ${(result.connect.ms / 1000).toFixed(1)} s (${result.connect.perS}/s)`);

    // ---- login (first pass timed; users missing from the database registered after) ----
    const doLogin = cfg.kind !== "idle" || cfg.login;
    if (doLogin) {
      const missing: number[] = [];
      let attempts = 0;
      t0 = performance.now();
      await mapLimit(cfg.conns, cfg.loginConcurrency, cfg.deadline, async (i) => {
        const w = wires[i];
        if (!w || w.closed) return;
        attempts++;
        const r = await login(w, cfg, userOf(i)).catch((e: Error) => ({ type: "error", code: short(e.message) }) as Frame);
        if (r.type === "ok") {
          result.login.ok++;
          absorbLogin(st(w), r);
        } else if (r.code === "bad_credentials") missing.push(i);
        else {
          result.login.failed++;
          errors.add(`login:${r.code}`);
        }
      });
      result.login.ms = r2(performance.now() - t0);
      result.login.perS = Math.round((result.login.ok * 1000) / result.login.ms);
      result.login.attemptsPerS = Math.round((attempts * 1000) / result.login.ms);
      if (missing.length) {
        cfg.log(`  registering ${missing.length} users (${cfg.prefix}N, once; later runs reuse them)`);
        await mapLimit(missing.length, cfg.loginConcurrency, cfg.deadline, async (k) => {
          const i = missing[k]!;
          const w = wires[i]!;
          const reg = await w.request("register", { name: `${cfg.prefix}${userOf(i)}`, password: cfg.password }).catch(() => ({ type: "error", code: "timeout" }) as Frame);
          if (reg.type === "ok") result.login.registered++;
          else if (reg.code !== "name_taken") errors.add(`register:${reg.code}`);
          const r = await login(w, cfg, userOf(i)).catch((e: Error) => ({ type: "error", code: short(e.message) }) as Frame);
          if (r.type === "ok") absorbLogin(st(w), r);
          else {
            result.login.failed++;
            errors.add(`login:${r.code}`);
          }
        });
      }
      cfg.log(
        `  logged in ${result.login.ok}/${result.connect.ok} in ${(result.login.ms / 1000).toFixed(1)} s (${result.login.perS}/s)` +
          (result.login.registered ? `, then registered ${result.login.registered} new users` : ""),
      );
    }

    // ---- friends / groups ----
    t0 = performance.now();
    const active: LoadWire[] = [];
    if (cfg.kind === "chat") {
      for (let k = 0; 2 * k + 1 < cfg.conns; k++) {
        const a = wires[2 * k];
        const b = wires[2 * k + 1];
        if (!a || !b || !st(a).user || !st(b).user) continue;
        st(a).dest = st(b).user;
        st(b).dest = st(a).user;
        active.push(a, b);
      }
      const toAdd = active.filter((_, j) => j % 2 === 0).filter((a) => !st(a).friends.has(st(a).dest));
      await mapLimit(toAdd.length, cfg.loginConcurrency, cfg.deadline, async (j) => {
        const a = toAdd[j]!;
        const r = await a.request("add_friend", { user: st(a).dest }).catch(() => ({ type: "error", code: "timeout" }) as Frame);
        if (r.type === "ok") result.setup.friendsAdded++;
        else if (r.code !== "already_friends") errors.add(`add_friend:${r.code}`);
      });
    } else if (cfg.kind === "group") {
      for (let k = 0; (k + 1) * connected <= cfg.conns; k++) {
        const members = Array.from({ length: connected }, (_, j) => wires[k * connected + j]).filter((w): w is LoadWire => !!w && st(w).user > 0);
        const name = `${cfg.prefix}grp${k}`;
        const creator = wires[k * connected];
        if (!creator || !st(creator).user || members.length < 2) continue;
        let id = st(creator).groups.get(name);
        if (id === undefined) {
          const r = await creator.request("create_group", { name, desc: "load benchmark" }).catch(() => ({ type: "error", code: "timeout" }) as Frame);
          if (r.type !== "ok") {
            errors.add(`create_group:${r.code}`);
            continue;
          }
          id = r.group.id as number;
          result.setup.groupsCreated++;
        }
        for (const m of members) {
          st(m).dest = id;
          // Every connected member but the sender gets each message; offline members get nothing now.
          st(m).need = members.length - 1;
          st(m).sends = m.index % connected < senders;
          active.push(m);
        }
      }
      const toJoin = active.filter((m) => !st(m).groups.has(`${cfg.prefix}grp${Math.floor(m.index / connected)}`) && m.index % connected !== 0);
      await mapLimit(toJoin.length, cfg.loginConcurrency, cfg.deadline, async (j) => {
        const m = toJoin[j]!;
        const r = await m.request("join_group", { group: st(m).dest }).catch(() => ({ type: "error", code: "timeout" }) as Frame);
        if (r.type === "ok") result.setup.joined++;
        else if (r.code !== "already_member") errors.add(`join_group:${r.code}`);
      });
    }
    // Messages left pending by earlier runs are pushed after login: let them arrive and be acked.
    const live = wires.filter((w): w is LoadWire => !!w && !w.closed);
    await settle("old pending messages replayed", () => live.every((w) => st(w).replayed >= st(w).pending), 30_000, cfg.deadline);
    flushAcks();
    await settle("setup acks answered", () => acksOut <= 0, 10_000, cfg.deadline);
    result.setup.replayed = foreign;
    result.setup.ms = r2(performance.now() - t0);
    if (result.setup.friendsAdded || result.setup.groupsCreated || result.setup.joined || foreign)
      cfg.log(
        `  setup: ${result.setup.friendsAdded} friendships, ${result.setup.groupsCreated} groups created, ${result.setup.joined} joins, ${foreign} old pending messages acked`,
      );

    if (cfg.kind === "idle") {
      await cfg.hooks.measureStart();
      const held = performance.now();
      // Pings keep a long hold under the server's idle timeout (90 s by default).
      let lastPing = Date.now();
      while ((performance.now() - held) / 1000 < cfg.holdS && Date.now() < cfg.deadline) {
        await Bun.sleep(Math.min(500, cfg.holdS * 1000));
        if (Date.now() - lastPing > 20_000) {
          lastPing = Date.now();
          for (const w of live) if (!w.closed) w.write(`{"type":"ping","id":${w.nextId()}}\n`);
        }
      }
      const open = live.filter((w) => !w.closed).length;
      await cfg.hooks.measureEnd();
      result.idle = { heldS: r2((performance.now() - held) / 1000), open };
      return result;
    }

    // ---- traffic: warm-up, measured window, drain ----
    foreign = 0;
    running = true;
    for (const w of active)
      if (!pingpong) pump(w, st(w));
      else if (w.index % 2 === 0) sendOne(w, st(w)); // the first of each pair serves
    await Bun.sleep(cfg.warmupS * 1000);
    await cfg.hooks.measureStart();
    windowStart = performance.now();
    measuring = true;
    const w0 = windowStart;
    await Bun.sleep(Math.max(0, Math.min(cfg.durationS * 1000, cfg.deadline - Date.now())));
    measuring = false;
    const windowMs = performance.now() - w0;
    await cfg.hooks.measureEnd();
    running = false;
    const inFlight = () => active.reduce((n, w) => n + (w.closed ? 0 : st(w).out), 0);
    await settle("in-flight messages drained", () => inFlight() === 0, cfg.drainS * 1000, cfg.deadline);
    flushAcks();
    await settle("acks answered", () => acksOut <= 0, 5_000, cfg.deadline);
    result.traffic = {
      windowS: r2(windowMs / 1000),
      sent,
      ok: okTotal,
      okPerS: Math.round((okWindow * 1000) / windowMs),
      delivered: deliveredWindow,
      deliveredPerS: Math.round((deliveredWindow * 1000) / windowMs),
      latencyMs: latencies.summary(),
      foreign,
      ackRequests,
      ackedMids,
      undrained: inFlight(),
      timeline: {
        bucketMs: TIMELINE_MS,
        perS: timelineCount.map((n) => Math.round((n * 1000) / TIMELINE_MS)),
        maxLatencyMs: timelineMax.map((x) => Math.round(x)),
      },
    };
    return result;
  } finally {
    clearInterval(keepalive);
    clearInterval(ackTimer);
    closing = true;
    running = false;
    const open = wires.filter((w): w is LoadWire => !!w && !w.closed);
    for (const w of open) w.close();
    await settle("connections closed", () => open.every((w) => w.closed), 10_000, Date.now() + 10_000);
    for (const w of open) if (!w.closed) w.terminate();
    result.errors = errors.toJSON();
  }
}

function login(w: LoadWire, cfg: StepConfig, i: number): Promise<Frame> {
  return w.request("login", { name: `${cfg.prefix}${i}`, password: cfg.password });
}

function absorbLogin(s: ConnState, r: Frame) {
  s.user = r.user.id;
  s.pending = r.pending ?? 0;
  for (const f of r.friends ?? []) s.friends.add(f.id);
  for (const g of r.groups ?? []) s.groups.set(g.name, g.id);
}

function short(msg: string): string {
  const m = msg.split(/[:\n]/)[0]!.trim();
  return m.length > 40 ? m.slice(0, 40) : m;
}
