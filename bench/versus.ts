/**
 * Ours and the C++ reference server side by side, in one run, interleaved:
 *
 *   bun run bench/versus.ts --peer /path/to/chatServer
 *   bun run bench/versus.ts --help
 *
 * The method: one node, N connections as N/2 pairs of friends ping-ponging
 * one-to-one messages, one message in flight per pair; on ours every push is
 * acked (in the same write as the answer). For each connection count, ours
 * and the peer take turns (the order flips every round). Each row has
 * delivered messages/s, send-to-push latency and the CPU µs per delivered
 * message of every process from /proc (the server, MariaDB, Redis, this
 * generator). Prints a table, writes bench/results/versus-<timestamp>.json and versus-latest.json.
 *
 * The peer (Knock-man/ClusterChatServer on muduo) is built by whoever runs
 * this, outside the repository; bench/versus/peer.ts runs it.
 */
import type { Subprocess } from "bun";
import { join, relative, resolve } from "node:path";
import mysql from "mysql2/promise";
import { startServices } from "../scripts/services.ts";
import { table } from "./lib/table.ts";
import { machine, machineBusyS, pidFromFile, type ProcSample, sample, selfCpuS } from "./load/proc.ts";
import { formatSummary, summarize } from "./load/profile.ts";
import { runStep } from "./load/scenario.ts";
import { killAllStarted, type ServerProc, spawnServer } from "./load/servers.ts";
import type { LatencySummary } from "./load/stats.ts";
import { type PeerSetup, preparePeerDb, runPeerStep, startPeerRedis, startPeerServer } from "./versus/peer.ts";
import { benchArgs, numberArg } from "./lib/args.ts";
import { writeResults } from "./lib/results.ts";

const ROOT = resolve(import.meta.dir, "..");
const HELP = `usage: bun run bench/versus.ts [options]

  --peer PATH            the C++ server's binary (chatServer); without it only ours runs
  --peer-redis-port N    the Redis port the peer was built with (default 6379; must be free:
                         this run starts a private redis-server there)
  --conns LIST           connection counts (default 100,500,1000)
  --repeat N             rounds per count, ours and the peer in turn (default 2)
  --duration S           measured window (default 8)
  --warmup S             traffic before the window (default 2)
  --sources N            loopback source addresses 127.0.0.2.. (default 8)
  --only LIST            ours,peer (default both)
  --profile              run our server under bun --cpu-prof and summarize each profile
  --server-arg ARG       extra argument for our server (repeatable)
  --server-root DIR      run DIR/src/main.ts instead of this checkout's
  --database NAME        our server's database (default chat; made when missing), e.g. one for a
                         --server-root checkout with another schema
  --mysql URL            this MariaDB instead of the private one (its CPU is then not measured)
  --services-dir DIR     private MariaDB (default .data/bench-load, shared with bench:load)
  --out DIR              results (default bench/results)
  --help
`;

const opt = benchArgs(HELP, {
  peer: { type: "string" },
  "peer-redis-port": { type: "string", default: "6379" },
  conns: { type: "string", default: "100,500,1000" },
  repeat: { type: "string", default: "2" },
  duration: { type: "string", default: "8" },
  warmup: { type: "string", default: "2" },
  sources: { type: "string", default: "8" },
  only: { type: "string", default: "ours,peer" },
  profile: { type: "boolean", default: false },
  "server-arg": { type: "string", multiple: true, default: [] },
  "server-root": { type: "string" },
  database: { type: "string" },
  mysql: { type: "string" },
  "services-dir": { type: "string", default: join(ROOT, ".data/bench-load") },
});
const num = numberArg;
const connsList = opt.conns!.split(",").filter(Boolean).map((x) => num(x, "conns", 2));
if (connsList.some((n) => n % 2 !== 0)) {
  console.error("--conns: even counts (pairs)");
  process.exit(2);
}
const repeat = num(opt.repeat, "repeat", 1);
const durationS = num(opt.duration, "duration", 0.5);
const warmupS = num(opt.warmup, "warmup", 0);
const sources = num(opt.sources, "sources", 0);
const only = new Set(opt.only!.split(","));
const runPeer = only.has("peer") && opt.peer !== undefined;
const runOurs = only.has("ours");
if (only.has("peer") && !opt.peer && !runOurs) {
  console.error("--only peer needs --peer PATH");
  process.exit(2);
}
const log = (s: string) => console.log(s);

// ---- cleanup: only what we started, by pid ----
const children = new Set<Subprocess>();
const killChildren = () => {
  killAllStarted();
  for (const c of children) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // Already gone: that is what we wanted.
    }
  }
};
process.on("exit", killChildren);
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });

// ---- services ----
const servicesDir = resolve(opt["services-dir"]!);
const services = opt.mysql ? { mysqlUrl: opt.mysql } : await startServices(servicesDir, { detached: true });
const mariadbPid = opt.mysql ? undefined : pidFromFile(join(servicesDir, "mariadb.pid"));
log(opt.mysql ? "MariaDB from --mysql (its CPU is not measured)" : `MariaDB ${relative(process.cwd(), servicesDir)} pid ${mariadbPid}`);
const dbUrl = new URL(services.mysqlUrl);
let oursUrl = services.mysqlUrl;
if (opt.database !== undefined) {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(opt.database)) {
    console.error("--database: letters, digits and _ only");
    process.exit(2);
  }
  const admin = await mysql.createConnection({ uri: services.mysqlUrl });
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${opt.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const u = new URL(services.mysqlUrl);
  u.pathname = `/${opt.database}`;
  oursUrl = u.toString();
}
const peerSetup: PeerSetup = {
  db: { host: dbUrl.hostname, port: Number(dbUrl.port), user: decodeURIComponent(dbUrl.username), password: decodeURIComponent(dbUrl.password), database: "ClusterChat" },
  dir: join(servicesDir, "peer"),
  users: Math.max(...connsList),
};
let peerRedis: Subprocess | undefined;
let peerIds: number[] = [];
if (runPeer) {
  peerIds = await preparePeerDb(peerSetup);
  peerRedis = await startPeerRedis(num(opt["peer-redis-port"], "peer-redis-port", 1), join(peerSetup.dir, "redis"));
  children.add(peerRedis);
  log(`peer: ${opt.peer}; its Redis pid ${peerRedis.pid} on ${opt["peer-redis-port"]}; its database ClusterChat (${peerIds.length} users)`);
}

// ---- one row ----
interface Row {
  server: "ours" | "peer";
  conns: number;
  round: number;
  deliveredPerS: number;
  latencyMs: LatencySummary;
  /** CPU µs per delivered message, by process */
  cpuUsPerMsg: { server: number; mysql: number; redis?: number; generator: number };
  /** CPU % of one core, by process */
  cpuPct: { server: number; mysql: number; redis?: number; generator: number };
  /** CPU of other processes on the machine during the window, % of one core */
  otherCpuPct: number;
  errors: Record<string, number>;
  profile?: string;
}

/** Samples the processes around the window; returns CPU µs per delivered message and % of a core. */
function meter(pids: { server: number; mysql?: number; redis?: number }) {
  let a: Record<string, ProcSample | undefined> = {};
  let g0 = 0;
  let busy0 = 0;
  let t0 = 0;
  let out: { secs: number; d: Record<string, number>; other: number } = { secs: 1, d: {}, other: 0 };
  const take = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid ? sample(pid) : undefined]));
  return {
    async start() {
      a = take();
      g0 = selfCpuS();
      busy0 = machineBusyS();
      t0 = performance.now();
    },
    async end() {
      const b = take();
      const g = selfCpuS() - g0;
      const busy = machineBusyS() - busy0;
      const secs = (performance.now() - t0) / 1000;
      const d: Record<string, number> = { generator: g };
      for (const k of Object.keys(pids)) d[k] = (b[k]?.cpuS ?? 0) - (a[k]?.cpuS ?? 0);
      const mine = Object.values(d).reduce((x, y) => x + y, 0);
      out = { secs, d, other: Math.max(0, Math.round((100 * (busy - mine)) / secs)) };
    },
    result(delivered: number) {
      const per = (k: string) => (out.d[k] === undefined ? undefined : Math.round((out.d[k]! * 1e6 * 10) / Math.max(1, delivered)) / 10);
      const pct = (k: string) => (out.d[k] === undefined ? undefined : Math.round((100 * out.d[k]!) / out.secs));
      return {
        cpuUsPerMsg: { server: per("server")!, mysql: per("mysql") ?? 0, redis: per("redis"), generator: per("generator")! },
        cpuPct: { server: pct("server")!, mysql: pct("mysql") ?? 0, redis: pct("redis"), generator: pct("generator")! },
        otherCpuPct: out.other,
      };
    },
  };
}

const profileDir = opt.profile ? join(servicesDir, "profiles") : undefined;

async function oursRow(conns: number, round: number): Promise<Row> {
  const server: ServerProc = await spawnServer({
    node: "n1",
    mysqlUrl: oursUrl,
    nofile: conns + 1024,
    profileDir,
    logDir: join(servicesDir, "logs"),
    hashMemoryKiB: 64,
    hashTime: 1,
    poolMaxSize: 16,
    extraArgs: opt["server-arg"],
    root: opt["server-root"] ? resolve(opt["server-root"]) : undefined,
  });
  const m = meter({ server: server.pid, mysql: mariadbPid });
  try {
    const r = await runStep({
      kind: "chat",
      pattern: "pingpong",
      conns,
      targets: [{ host: "127.0.0.1", port: server.port, node: "n1" }],
      sources,
      prefix: "pp_",
      password: "load-password-1",
      inflight: 1,
      groupSize: 2,
      ackMs: 10,
      warmupS,
      durationS,
      drainS: 10,
      login: true,
      holdS: 0,
      connectConcurrency: 256,
      loginConcurrency: 256,
      deadline: Date.now() + 600_000,
      log,
      hooks: { beforeConnect: async () => {}, measureStart: m.start, measureEnd: m.end },
    });
    const t = r.traffic;
    const delivered = t?.delivered ?? 0;
    return { server: "ours", conns, round, deliveredPerS: t?.deliveredPerS ?? 0, latencyMs: t!.latencyMs, ...m.result(delivered), errors: r.errors };
  } finally {
    await server.stop();
  }
}

async function peerRow(conns: number, round: number): Promise<Row> {
  await preparePeerDb(peerSetup); // every user offline again
  const s = await startPeerServer(resolve(opt.peer!), peerSetup);
  children.add(s.proc);
  const m = meter({ server: s.pid, mysql: mariadbPid, redis: peerRedis?.pid });
  try {
    const r = await runPeerStep(
      { port: s.port, ids: peerIds, conns, sources, warmupS, durationS, log, measureStart: m.start, measureEnd: m.end },
      async () => {
        s.proc.kill("SIGKILL");
        await s.proc.exited;
      },
    );
    return { server: "peer", conns, round, deliveredPerS: r.deliveredPerS, latencyMs: r.latencyMs, ...m.result(r.delivered), errors: r.errors };
  } finally {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill("SIGKILL");
    await s.proc.exited;
    children.delete(s.proc);
  }
}

const rows: Row[] = [];
const show = (r: Row) =>
  log(
    `  ${r.server}: ${r.deliveredPerS.toLocaleString("en-US")}/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms; ` +
      `CPU µs/msg server ${r.cpuUsPerMsg.server}, MariaDB ${r.cpuUsPerMsg.mysql}${r.cpuUsPerMsg.redis !== undefined ? `, Redis ${r.cpuUsPerMsg.redis}` : ""}, generator ${r.cpuUsPerMsg.generator}; ` +
      `others ${r.otherCpuPct}%` +
      (Object.keys(r.errors).length ? `; errors ${JSON.stringify(r.errors)}` : ""),
  );
for (const conns of connsList)
  for (let round = 1; round <= repeat; round++) {
    const order: ("ours" | "peer")[] = [];
    if (runOurs) order.push("ours");
    if (runPeer) order.push("peer");
    if (round % 2 === 0) order.reverse();
    for (const who of order) {
      log(`\n== ${who}, ${conns} connections, round ${round}`);
      try {
        const row = who === "ours" ? await oursRow(conns, round) : await peerRow(conns, round);
        rows.push(row);
        show(row);
      } catch (e) {
        console.error(`  ${who} failed: ${(e as Error).stack ?? e}`);
      }
    }
  }
if (profileDir)
  for (const f of [...new Bun.Glob("*.cpuprofile").scanSync(profileDir)].sort().slice(-connsList.length * repeat))
    log(`\nprofile ${f}:\n${formatSummary(summarize(join(profileDir, f)))}`);

// ---- the table: every row, then per count the medians and the ratio ----
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
log("\n" + table(
  ["server", "conns", "round", "delivered/s", "p50 ms", "p99 ms", "µs/msg server", "MariaDB", "Redis", "generator", "others %"],
  rows.map((r) => [r.server, r.conns, r.round, r.deliveredPerS, r.latencyMs.p50, r.latencyMs.p99, r.cpuUsPerMsg.server, r.cpuUsPerMsg.mysql, r.cpuUsPerMsg.redis ?? "–", r.cpuUsPerMsg.generator, r.otherCpuPct]),
));
const ratios = connsList.map((conns) => {
  const of = (who: string) => rows.filter((r) => r.conns === conns && r.server === who);
  const ours = of("ours");
  const peer = of("peer");
  const o = median(ours.map((r) => r.deliveredPerS));
  const p = median(peer.map((r) => r.deliveredPerS));
  return { conns, ours: o, peer: p, ratio: p > 0 ? Math.round((100 * o) / p) / 100 : undefined, oursServerUs: median(ours.map((r) => r.cpuUsPerMsg.server)), peerServerUs: median(peer.map((r) => r.cpuUsPerMsg.server)) };
});
if (runPeer && runOurs)
  log("\n" + table(
    ["conns", "ours delivered/s (median)", "peer", "ours ÷ peer", "server µs/msg ours", "peer"],
    ratios.map((x) => [x.conns, x.ours, x.peer, x.ratio ?? "–", x.oursServerUs, x.peerServerUs]),
  ));
const at = Date.now();
log(`\n${writeResults(opt.out!, "versus", at, { at: new Date(at).toISOString(), machine: machine(), argv: process.argv.slice(2), durationS, warmupS, rows, ratios })}`);
peerRedis?.kill("SIGTERM");
process.exit(0);
