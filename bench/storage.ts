/**
 * What a message costs the data tier, for capacity planning (docs/SCALING.md):
 * rows changed in MariaDB (its handler counters), redo log bytes, the
 * messages table's bytes per message (data and indexes after ANALYZE, over
 * every message of the run), and Redis publishes, for
 * one-to-one and group messages with the recipients online (pushed and
 * acked) and offline. Two real `chat server` nodes over one Redis; the sender
 * on the first node, the online recipients on the second, so that every live
 * delivery crosses the bus.
 *
 *   bun run bench/storage.ts            (npm run bench:storage)
 *   bun run bench/storage.ts --help
 *
 * Requests go one at a time. Prints a table and writes
 * bench/results/storage-<timestamp>.json and storage-latest.json.
 */
import { execSync } from "node:child_process";
import { join, relative, resolve } from "node:path";
import mysql from "mysql2/promise";
import { createClient } from "redis";
import { startServices, stopServices } from "../scripts/services.ts";
import { migrate } from "../sql/migrate.ts";
import { type Frame, LoadWire } from "../test/support/load-wire.ts";
import { fmt, table } from "./lib/table.ts";
import { machine, pidFromFile } from "./load/proc.ts";
import { killAllStarted, spawnServer } from "./load/servers.ts";
import { benchArgs, numberArg } from "./lib/args.ts";
import { writeResults } from "./lib/results.ts";

const ROOT = resolve(import.meta.dir, "..");
const DATABASE = "bench_storage";

const HELP = `usage: bun run bench/storage.ts [options]

Makes database ${DATABASE} afresh (dropped first: it is this benchmark's own)
on private MariaDB and Redis in .data/bench-storage (started, or reused;
stopped at the end if this run started them, unless --keep-services).

options:
  --messages N     messages per scenario (default 5000)
  --text-bytes N   length of each message's text (default 100)
  --group-size N   members of the group, the sender included (default 100)
  --keep-services  leave the private MariaDB and Redis running
  --out DIR        results directory (default bench/results)
  --help
`;

const opt = benchArgs(HELP, {
  messages: { type: "string", default: "5000" },
  "text-bytes": { type: "string", default: "100" },
  "group-size": { type: "string", default: "100" },
  "keep-services": { type: "boolean", default: false },
});
const num = (name: "messages" | "text-bytes" | "group-size", min: number): number => numberArg(opt[name], name, min, true);
const messages = num("messages", 100);
const textBytes = num("text-bytes", 1);
const groupSize = num("group-size", 3);
const startedAt = Date.now();
const log = (s: string) => console.log(s);
process.on("exit", killAllStarted);

// ---- services and the database ----
const servicesDir = join(ROOT, ".data/bench-storage");
const running = pidFromFile(join(servicesDir, "mariadb.pid"));
log(`${running ? "reusing" : "starting"} private MariaDB and Redis in ${relative(process.cwd(), servicesDir)}`);
const services = await startServices(servicesDir, { detached: true });
const stopAtEnd = !running && !opt["keep-services"];
const url = new URL(services.mysqlUrl);
const admin = await mysql.createConnection({ uri: url.toString() });
await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
const [[ver]] = (await admin.query("SELECT @@version AS version")) as unknown as [[{ version: string }]];
url.pathname = `/${DATABASE}`;
const mysqlUrl = url.toString();
await migrate(mysqlUrl);
const db = await mysql.createConnection({ uri: mysqlUrl });
const redis = createClient({ url: services.redisUrl });
await redis.connect();

const nodes = await Promise.all(
  ["s1", "s2"].map((node) =>
    spawnServer({ node, mysqlUrl, redisUrl: services.redisUrl, nofile: 4096, logDir: join(servicesDir, "logs"), hashMemoryKiB: 64, hashTime: 1, poolMaxSize: 8 }),
  ),
);
const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];

/** Online recipients ack each push at once; the sender ignores pushes. */
const acker = {
  push(w: LoadWire, f: Frame) {
    if (f.type === "msg" && w.state?.acks) w.write(`${JSON.stringify({ type: "ack", id: w.nextId(), mids: [f.mid] })}\n`);
  },
  reply() {},
  closed() {},
};
async function ok(w: LoadWire, op: string, fields: Record<string, unknown> = {}): Promise<Frame> {
  const f = await w.request(op, fields);
  if (f.type !== "ok") throw new Error(`${op}: ${f.code} ${f.message ?? ""}`);
  return f;
}
const PASSWORD = "storage-pw-1";
async function account(port: number, name: string, acks: boolean): Promise<{ w: LoadWire; id: number }> {
  const w = await LoadWire.open({ host: "127.0.0.1", port }, 0, acker);
  w.state = { acks };
  await w.request("register", { name, password: PASSWORD });
  const login = await ok(w, "login", { name, password: PASSWORD });
  return { w, id: (login.user as { id: number }).id };
}

// ---- measuring ----

async function handlerCounts(): Promise<Record<string, number>> {
  const [r] = (await db.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write','Handler_update','Handler_delete','Innodb_data_written','Innodb_os_log_written')")) as unknown as [
    { Variable_name: string; Value: string }[],
  ];
  return Object.fromEntries(r.map((x) => [x.Variable_name, Number(x.Value)]));
}

async function tableBytes(): Promise<Record<string, { rows: number; bytes: number }>> {
  const out: Record<string, { rows: number; bytes: number }> = {};
  const [tables] = (await db.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [DATABASE])) as unknown as [{ t: string }[]];
  for (const { t } of tables) {
    await db.query(`ANALYZE TABLE \`${t}\``);
    const [[c]] = (await db.query(`SELECT COUNT(*) AS n FROM \`${t}\``)) as unknown as [[{ n: number }]];
    const [[s]] = (await db.query("SELECT DATA_LENGTH + INDEX_LENGTH AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", [DATABASE, t])) as unknown as [
      [{ b: number }],
    ];
    out[t] = { rows: Number(c.n), bytes: Number(s.b) };
  }
  return out;
}

async function publishes(): Promise<number> {
  const info = await redis.info("commandstats");
  const m = /cmdstat_publish:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}

interface Result {
  scenario: string;
  messages: number;
  rowsWritten: number;
  rowsUpdated: number;
  rowsDeleted: number;
  redoBytes: number;
  publishes: number;
}
const results: Result[] = [];

/** Sends `messages` messages one after another with `send`, then waits for the online recipients' acks to land. */
async function scenario(name: string, send: (i: number) => Promise<unknown>, settle: () => Promise<void>) {
  const h0 = await handlerCounts();
  const p0 = await publishes();
  const started = performance.now();
  for (let i = 0; i < messages; i++) await send(i);
  await settle();
  const s = (performance.now() - started) / 1000;
  const h1 = await handlerCounts();
  const p1 = await publishes();
  const per = (a: number, b: number) => (b - a) / messages;
  const r: Result = {
    scenario: name,
    messages,
    rowsWritten: per(h0.Handler_write!, h1.Handler_write!),
    rowsUpdated: per(h0.Handler_update!, h1.Handler_update!),
    rowsDeleted: per(h0.Handler_delete!, h1.Handler_delete!),
    redoBytes: per(h0.Innodb_os_log_written!, h1.Innodb_os_log_written!),
    publishes: per(p0, p1),
  };
  results.push(r);
  log(`  ${name}: ${messages} messages in ${s.toFixed(1)} s`);
}

const text = "x".repeat(textBytes);
const sender = await account(n1.port, "st_sender", false);
const friend = await account(n2.port, "st_friend", true);
await ok(sender.w, "add_friend", { user: friend.id });
const group = (await ok(sender.w, "create_group", { name: "st_group", desc: "storage benchmark" })).group as { id: number } | number;
const gid = typeof group === "number" ? group : group.id;
const online: LoadWire[] = [];
for (let i = 1; i < groupSize; i++) {
  const m = await account(n2.port, `st_member${i}`, true);
  await ok(m.w, "join_group", { group: gid });
  // Two members stay online (on the other node) and ack; the rest go offline.
  if (i <= 2) online.push(m.w);
  else {
    await ok(m.w, "logout");
    m.w.close();
  }
}
/** Until the online recipients have acked everything (the ack writes land in the group commit). */
async function acked() {
  for (const w of [friend.w, ...online]) await ok(w, "ping");
  await Bun.sleep(200);
}

log(`measuring ${messages} messages of ${textBytes} bytes per scenario; a group of ${groupSize}, 2 members online:`);
await scenario("one-to-one, recipient online (pushed, acked)", (i) => ok(sender.w, "send", { to: friend.id, text, cid: `o${i}` }), acked);
await ok(friend.w, "logout");
await scenario("one-to-one, recipient offline", (i) => ok(sender.w, "send", { to: friend.id, text, cid: `f${i}` }), async () => {});
await scenario(`group of ${groupSize}, 2 online (pushed, acked)`, (i) => ok(sender.w, "group_send", { group: gid, text, cid: `g${i}` }), acked);
for (const w of online) await ok(w, "logout");
await scenario(`group of ${groupSize}, all offline`, (i) => ok(sender.w, "group_send", { group: gid, text, cid: `h${i}` }), async () => {});

// Bytes per message over the whole run: one scenario's few pages would be too coarse.
const tables = await tableBytes();
const stored = tables.messages!;
const bytesPerMessage = stored.bytes / stored.rows;

for (const w of [sender.w, friend.w, ...online]) w.close();
await Promise.all(nodes.map((n) => n.stop()));
await db.end();
await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
await admin.end();
await redis.close();

// ---- report ----
const mach = machine();
let commit = "";
try {
  commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
} catch {}
const header = ["scenario", "rows written", "rows updated", "rows deleted", "redo log bytes", "Redis publishes"];
const rows = results.map((r) => [r.scenario, r.rowsWritten, r.rowsUpdated, r.rowsDeleted, r.redoBytes, r.publishes]);
const text1 = table(header, rows);
console.log(`\nstorage per message — commit ${commit}, MariaDB ${ver!.version}, ${mach.cpu}; text ${textBytes} bytes; all figures per message`);
console.log(text1);
console.log("rows: MariaDB's handler counters (row writes, updates, deletes); redo log bytes: what InnoDB wrote to its log, the part a commit fsyncs;");
console.log("publishes: Redis PUBLISH calls (cross-node live delivery).");
console.log(
  `messages table: ${fmt(stored.rows)} messages in ${fmt(stored.bytes / 1024)} KiB of data and indexes: ${fmt(bytesPerMessage)} bytes per message of ${textBytes} bytes of text`,
);

const out = {
  kind: "chat-storage",
  startedAt: new Date(startedAt).toISOString(),
  command: `bun run bench/storage.ts ${process.argv.slice(2).join(" ")}`.trim(),
  machine: mach,
  git: { commit },
  settings: { messages, textBytes, groupSize, mariadb: ver!.version },
  results,
  tables,
  bytesPerMessage,
  table: text1.split("\n"),
};
console.log(`\nwrote ${writeResults(opt.out!, "storage", startedAt, out)}, storage-latest.json`);
if (stopAtEnd) {
  await stopServices(servicesDir);
  log("stopped the MariaDB and Redis this run started");
}
process.exit(0);
