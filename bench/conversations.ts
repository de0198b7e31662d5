/**
 * The conversation list under a heavy user: one user with 500 friends and 200
 * groups, every conversation with messages (written with SQL, with the
 * positions the server keeps), one real `chat server`, and one client that
 * asks for `conversations` again and again: the first 50, the first 100, and
 * the whole list page by page. Also the login reply for that user, whose
 * `unread` and `pending` counts cover every conversation.
 *
 *   bun run bench/conversations.ts            (npm run bench:conversations)
 *   bun run bench/conversations.ts --help
 *
 * Requests go one at a time (latency, not throughput). Prints a table and
 * writes bench/results/conversations-<timestamp>.json and
 * conversations-latest.json.
 */
import { execSync } from "node:child_process";
import { join, relative, resolve } from "node:path";
import mysql from "mysql2/promise";
import { startServices, stopServices } from "../scripts/services.ts";
import { migrate } from "../sql/migrate.ts";
import { type Frame, LoadWire } from "../test/support/load-wire.ts";
import { seed } from "./conversations/seed.ts";
import { loadAvg, machine, pidFromFile } from "./load/proc.ts";
import { killAllStarted, spawnServer } from "./load/servers.ts";
import { Samples } from "./load/stats.ts";
import { benchArgs, numberArg } from "./lib/args.ts";
import { writeResults } from "./lib/results.ts";

const ROOT = resolve(import.meta.dir, "..");
const DATABASE = "bench_conversations";

const HELP = `usage: bun run bench/conversations.ts [options]

Makes database ${DATABASE} afresh (dropped first: it is this benchmark's own)
on CHAT_MYSQL_URL's server (or --mysql), or on private MariaDB in
.data/bench-conversations (started, or reused; stopped at the end if this run
started it, unless --keep-services).

options:
  --friends N        the user's friends (default 500)
  --groups N         the user's groups (default 200)
  --messages N       messages per conversation (default 50)
  --group-members N  members of each group besides the user (default 9)
  --unread-every N   every Nth conversation has unread messages (default 3)
  --unread N         unread messages in those (default 5)
  --pending N        of those, not delivered yet (default 2)
  --requests N       requests of each kind (default 300; paging: N / 10 walks)
  --logins N         logins measured (default 30)
  --warmup N         unmeasured requests first (default 30)
  --hash-memory KIB  argon2id memory of the users' hashes (default 64: cheap, benchmark only)
  --server-root DIR  run DIR/src/main.ts instead of this checkout's (compare another version;
                     the schema is still this checkout's)
  --mysql URL        MariaDB (default CHAT_MYSQL_URL or private services)
  --keep-services    leave the private MariaDB running
  --out DIR          results directory (default bench/results)
  --help
`;

const opt = benchArgs(HELP, {
  friends: { type: "string", default: "500" },
  groups: { type: "string", default: "200" },
  messages: { type: "string", default: "50" },
  "group-members": { type: "string", default: "9" },
  "unread-every": { type: "string", default: "3" },
  unread: { type: "string", default: "5" },
  pending: { type: "string", default: "2" },
  requests: { type: "string", default: "300" },
  logins: { type: "string", default: "30" },
  warmup: { type: "string", default: "30" },
  "hash-memory": { type: "string", default: "64" },
  mysql: { type: "string" },
  "server-root": { type: "string" },
  "keep-services": { type: "boolean", default: false },
});
const num = (name: keyof typeof opt, min = 0): number => numberArg(opt[name] as string | undefined, name, min, true);
const friends = num("friends", 1);
const groups = num("groups", 0);
const messages = num("messages", 1);
const groupMembers = num("group-members", 1);
const unreadEvery = num("unread-every", 1);
const unreadN = num("unread", 0);
const pendingN = num("pending", 0);
const requests = num("requests", 1);
const logins = num("logins", 1);
const warmup = num("warmup", 0);
const hashMemory = num("hash-memory", 8);
if (pendingN > unreadN) {
  console.error("--pending: at most --unread (what is not delivered is not read either)");
  process.exit(2);
}
const startedAt = Date.now();
const log = (s: string) => console.log(s);
process.on("exit", killAllStarted);

// ---- database ----
let servicesDir: string | undefined;
let stopAtEnd = false;
let baseUrl = opt.mysql ?? process.env.CHAT_MYSQL_URL;
if (!baseUrl) {
  servicesDir = join(ROOT, ".data/bench-conversations");
  const running = pidFromFile(join(servicesDir, "mariadb.pid"));
  log(`${running ? "reusing" : "starting"} private MariaDB in ${relative(process.cwd(), servicesDir)}`);
  baseUrl = (await startServices(servicesDir, { detached: true })).mysqlUrl;
  stopAtEnd = !running && !opt["keep-services"];
}
const url = new URL(baseUrl);
const admin = await mysql.createConnection({ uri: url.toString() });
await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
const [[ver]] = (await admin.query("SELECT @@version AS version")) as unknown as [[{ version: string }]];
await admin.end();
url.pathname = `/${DATABASE}`;
const mysqlUrl = url.toString();
await migrate(mysqlUrl);

const PASSWORD = "conversations-pw-1";
const db = await mysql.createConnection({ uri: mysqlUrl });
const seeded = await seed(db, {
  friends,
  groups,
  messages,
  groupMembers,
  unreadEvery,
  unread: unreadN,
  pending: pendingN,
  passwordHash: await Bun.password.hash(PASSWORD, { algorithm: "argon2id", memoryCost: hashMemory, timeCost: 1 }),
});
log(
  `seeded ${DATABASE}: ${seeded.user.name} with ${friends} friends and ${groups} groups (${groupMembers} other members each), ` +
    `${messages} messages per conversation (${seeded.messages} in all), expecting unread ${seeded.unread} and pending ${seeded.pending}, in ${(seeded.ms / 1000).toFixed(1)} s`,
);

// ---- the server and the client ----
const server = await spawnServer({
  node: "n1",
  mysqlUrl,
  nofile: 4096,
  logDir: join(ROOT, ".data/bench-conversations/logs"),
  hashMemoryKiB: hashMemory,
  hashTime: 1,
  poolMaxSize: 16,
  root: opt["server-root"] ? resolve(opt["server-root"]) : undefined,
});
let pushed = 0;
let pushWaiter: (() => void) | undefined;
let pushTarget = 0;
const handlers = {
  push(_w: LoadWire, f: Frame) {
    if (f.type !== "msg") return;
    pushed++;
    if (pushWaiter && pushed >= pushTarget) pushWaiter();
  },
  reply() {},
  closed() {},
};
const w = await LoadWire.open({ host: "127.0.0.1", port: server.port }, 0, handlers);

/**
 * Index entries and rows MariaDB read, in all (its global handler counters):
 * per request, exact only while nothing else uses this MariaDB. An entry an
 * index condition rejected was read too, so those count.
 */
async function rowsRead(): Promise<number> {
  const [r] = (await db.query("SHOW GLOBAL STATUS LIKE 'Handler_%'")) as unknown as [{ Variable_name: string; Value: string }[]];
  const v = (name: string) => Number(r.find((x) => x.Variable_name === name)?.Value ?? 0);
  return (
    v("Handler_read_key") + v("Handler_read_next") + v("Handler_read_prev") + v("Handler_read_rnd_next") + v("Handler_icp_attempts") - v("Handler_icp_match")
  );
}

async function request(op: string, fields: Record<string, unknown>): Promise<{ ms: number; frame: Frame }> {
  const t0 = performance.now();
  const frame = await w.request(op, fields);
  const ms = performance.now() - t0;
  if (frame.type !== "ok") throw new Error(`${op}: ${frame.code} ${frame.message ?? ""}`);
  return { ms, frame };
}

// ---- logins: the reply's cost, and the replay of what is pending ----
const loginMs = new Samples();
const replayMs = new Samples();
let loginReply: Frame | undefined;
const readsBefore = await rowsRead();
for (let i = 0; i < logins + 3; i++) {
  pushed = 0;
  pushTarget = seeded.pending;
  const replayed = new Promise<void>((r) => (pushWaiter = r));
  const t0 = performance.now();
  const { ms, frame } = await request("login", { name: seeded.user.name, password: PASSWORD });
  if (seeded.pending > 0) await Promise.race([replayed, Bun.sleep(30_000)]);
  const all = performance.now() - t0;
  pushWaiter = undefined;
  if (i >= 3) {
    loginMs.add(ms);
    replayMs.add(all);
  }
  loginReply = frame;
  if (i < logins + 2) await request("logout", {});
}
const loginReads = Math.round(((await rowsRead()) - readsBefore) / (logins + 3));
const lr = loginReply!;
const loginCheck = lr.unread === seeded.unread && lr.pending === seeded.pending;
log(`login: unread ${lr.unread}, pending ${lr.pending} (expected ${seeded.unread} and ${seeded.pending}: ${loginCheck ? "right" : "WRONG"}), ${lr.friends.length} friends, ${lr.groups.length} groups`);

// ---- conversations ----
interface Kind {
  name: string;
  samples: Samples;
  /** rows MariaDB read per request */
  reads: number;
  count: number;
}
const kinds: Kind[] = [];
async function measure(name: string, n: number, one: () => Promise<number>): Promise<Kind> {
  for (let i = 0; i < Math.min(warmup, n); i++) await one();
  const samples = new Samples();
  const r0 = await rowsRead();
  let count = 0;
  for (let i = 0; i < n; i++) count = await one().then((ms) => (samples.add(ms), count + 1));
  const k: Kind = { name, samples, reads: Math.round(((await rowsRead()) - r0) / n), count };
  kinds.push(k);
  const s = samples.summary();
  log(`  ${name}: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms (${n} requests, ~${k.reads} rows read by MariaDB per request)`);
  return k;
}

log(`conversations (${seeded.conversations} with messages):`);
let firstPage: Frame | undefined;
await measure("limit 50, first page", requests, async () => {
  const r = await request("conversations", { limit: 50 });
  firstPage ??= r.frame;
  return r.ms;
});
await measure("limit 100, first page", requests, async () => (await request("conversations", { limit: 100 })).ms);
// Paging through all of them: each page's latency, and the whole walk.
const pageMs = new Samples();
let walked = 0;
let unreadSum = 0;
let pages = 0;
const walks = Math.max(1, Math.round(requests / 10));
const walkKind = await measure("all, limit 100 per page (one walk)", walks, async () => {
  const t0 = performance.now();
  let before: number | undefined;
  walked = 0;
  unreadSum = 0;
  pages = 0;
  for (;;) {
    const r = await request("conversations", before === undefined ? { limit: 100 } : { limit: 100, before });
    pageMs.add(r.ms);
    pages++;
    const list = r.frame.conversations as { last: { mid: number }; unread: number }[];
    walked += list.length;
    for (const c of list) unreadSum += c.unread;
    if (list.length < 100) break;
    before = list[list.length - 1]!.last.mid;
  }
  return performance.now() - t0;
});
const pageSummary = pageMs.summary();
log(`  each page of those walks: p50 ${pageSummary.p50} ms, p99 ${pageSummary.p99} ms, max ${pageSummary.max} ms (${pages} pages a walk)`);
const listCheck = walked === seeded.conversations && unreadSum === seeded.unread;
log(`  a walk saw ${walked} conversations with ${unreadSum} unread in all (expected ${seeded.conversations} and ${seeded.unread}: ${listCheck ? "right" : "WRONG"})`);

w.close();
await server.stop();
await db.end();

// ---- report ----
const P99_TARGET_MS = 20;
const mach = machine();
let commit = "";
let dirty = false;
try {
  const gitRoot = opt["server-root"] ? resolve(opt["server-root"]) : ROOT;
  commit = execSync("git rev-parse --short HEAD", { cwd: gitRoot, encoding: "utf8" }).trim();
  dirty = execSync("git status --porcelain -- src pool sql", { cwd: gitRoot, encoding: "utf8" }).trim().length > 0;
} catch {}
const pad = (s: string | number, n: number) => String(s).padStart(n);
const header = `${"request".padEnd(38)}${pad("n", 6)}${pad("p50 ms", 9)}${pad("p90 ms", 9)}${pad("p99 ms", 9)}${pad("max ms", 9)}${pad("rows read", 11)}`;
const row = (name: string, n: number, s: ReturnType<Samples["summary"]>, reads: number | string) =>
  `${name.padEnd(38)}${pad(n, 6)}${pad(s.p50, 9)}${pad(s.p90, 9)}${pad(s.p99, 9)}${pad(s.max, 9)}${pad(reads, 11)}`;
const rows = [
  row(`login (reply: unread ${lr.unread}, pending ${lr.pending})`, logins, loginMs.summary(), loginReads),
  row(`login + replay of the ${seeded.pending} pending`, logins, replayMs.summary(), "-"),
  ...kinds.map((k) => row(`conversations ${k.name}`, k.count, k.samples.summary(), k.reads)),
  row("  each page of the walks", pageMs.count, pageSummary, "-"),
];
const targets = kinds
  .filter((k) => k !== walkKind)
  .map((k) => ({ target: `conversations ${k.name}: p99 < ${P99_TARGET_MS} ms`, measured: `${k.samples.summary().p99} ms`, met: k.samples.summary().p99 < P99_TARGET_MS }));
targets.push({ target: `conversations, every page of a walk through all: p99 < ${P99_TARGET_MS} ms`, measured: `${pageSummary.p99} ms`, met: pageSummary.p99 < P99_TARGET_MS });
targets.push({ target: "the login reply's unread and pending, and the list's unread counts, are right", measured: loginCheck && listCheck ? "right" : "WRONG", met: loginCheck && listCheck });

console.log(`\n${"=".repeat(header.length)}`);
console.log(
  `conversations benchmark — ${mach.cpu}, ${mach.cores} cores, ${mach.memGiB} GiB, Linux ${mach.kernel}, Bun ${mach.bun}; client on the same machine; load average ${loadAvg()}` +
    `\ncommit ${commit}${dirty ? " (+ uncommitted changes in src/)" : ""}; MariaDB ${ver!.version}; one user, ${friends} friends, ${groups} groups of ${groupMembers + 1}, ${messages} messages each (${seeded.messages} in all)`,
);
console.log(header);
for (const r of rows) console.log(r);
console.log("rows read: MariaDB's handler reads (index entries and rows) per request, from its global counters: exact only while nothing else uses this MariaDB.");
console.log("\ntargets:");
for (const t of targets) console.log(`  ${t.met ? "MET  " : "MISSED"} ${t.target}: ${t.measured}`);

const out = {
  kind: "chat-conversations",
  startedAt: new Date(startedAt).toISOString(),
  elapsedS: Math.round((Date.now() - startedAt) / 1000),
  command: `bun run bench/conversations.ts ${process.argv.slice(2).join(" ")}`.trim(),
  machine: mach,
  git: { commit, dirty },
  settings: { serverRoot: opt["server-root"] ? resolve(opt["server-root"]) : undefined, friends, groups, messages, groupMembers, unreadEvery, unread: unreadN, pending: pendingN, requests, logins, warmup, mariadb: ver!.version },
  seeded,
  login: { reply: { unread: lr.unread, pending: lr.pending }, ms: loginMs.summary(), withReplayMs: replayMs.summary(), rowsRead: loginReads, right: loginCheck },
  conversations: kinds.map((k) => ({ name: k.name, ms: k.samples.summary(), rowsRead: k.reads })),
  pages: { ms: pageSummary, perWalk: pages, walked, unreadSum, right: listCheck },
  firstPageSample: (firstPage?.conversations as unknown[] | undefined)?.slice(0, 2),
  targets,
  table: [header, ...rows],
};
console.log(`\nwrote ${writeResults(opt.out!, "conversations", startedAt, out)}, conversations-latest.json`);
if (stopAtEnd && servicesDir) {
  await stopServices(servicesDir);
  log(`stopped the MariaDB this run started`);
}
process.exit(loginCheck && listCheck ? 0 : 1);
