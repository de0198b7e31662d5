/**
 * Pool benchmark: our pool against a new connection per query (the reference
 * projects' baseline), mysql2's createPool and Bun's built-in SQL client, on
 * the same MariaDB, the same SQL (prepared statements), the same max size and
 * the same concurrency; plus lease()+release() alone on a stub connection.
 * At concurrency 1 it also runs one bare mysql2 connection: the most any pool
 * over mysql2 can reach, which separates pool overhead from driver speed.
 *
 *   bun bench/pool.ts [--quick] [--workloads=select,insert] [--contestants=ours,mysql2,bun-sql,per-query,single]
 *
 * Uses CHAT_MYSQL_URL if set, else the bench MariaDB in .data/bench (full
 * durability: inserts pay for fsync), started if it is not running and left
 * running: other benchmarks share it (stop it with
 * `bun scripts/services.ts stop .data/bench`). Works in its own database, `chat_bench`. Writes bench/results/pool-<time>.json
 * and bench/results/pool-latest.json.
 *
 * Concurrency N means N workers each running one operation after another
 * (closed loop), so N operations are in flight. Each contestant is measured in
 * ROUNDS interleaved rounds (A B C D, B C D A, ...) and its ops/s is the median
 * round, so a burst of load from elsewhere on the machine skews one round, not
 * the result. p50/p99 pool the latencies of all rounds. Client CPU per
 * operation (this process's user+system time) is reported too: it is what the
 * pool and driver cost, and is less sensitive to a busy machine than wall time.
 *
 * Every mysql2 contestant runs with `trace: false`, our pool's default: with
 * it on, mysql2 captures a stack trace per query, which under Bun costs as
 * much as the rest of the query's client work and would measure that setting,
 * not the pools.
 */
import { SQL } from "bun";
import { do_not_optimize, measure } from "mitata";
import mysql from "mysql2/promise";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { FakeDriver } from "../pool/fake-connection.ts";
import { createPool, poolOptionsFromUrl } from "../pool/index.ts";
import { startServices } from "../scripts/services.ts";
import { closedLoop, concat, quantile, type LoadResult } from "./lib/load.ts";
import { fmt, table } from "./lib/table.ts";

const startedAt = new Date().toISOString();
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const listArg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]?.split(",");

const MAX = 16;
const CONCURRENCY = [1, 4, 16];
const ROWS = 10_000;
const ROUNDS = quick ? 2 : 5;
const WARMUP_MS = quick ? 100 : 250;
const DURATION_MS = quick ? 250 : 1000;
const DATABASE = "chat_bench";
const SELECT_SQL = "SELECT id, name, v FROM bench_kv WHERE id = ?";
const INSERT_SQL = "INSERT INTO bench_log (k, payload, ts) VALUES (?, ?, ?)";
const PAYLOAD = "x".repeat(32);

type Workload = "select" | "insert";
const WORKLOADS: Workload[] = (listArg("workloads") as Workload[] | undefined) ?? ["select", "insert"];

interface Contestant {
  key: string;
  name: string;
  /** Runs only at these concurrencies (default all). */
  only?: number[];
  start(): Promise<void>;
  select(id: number): Promise<unknown>;
  insert(k: number): Promise<unknown>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- services

const benchDir = join(import.meta.dir, "..", ".data", "bench");
let baseUrl = process.env.CHAT_MYSQL_URL;
if (!baseUrl) {
  const running = existsSync(join(benchDir, "ports.json"));
  console.log(`${running ? "using" : "starting"} the bench MariaDB in ${benchDir} (stop: bun scripts/services.ts stop .data/bench)`);
  // Detached and left running: other benchmarks may be using it at the same time.
  baseUrl = (await startServices(benchDir, { detached: true })).mysqlUrl;
}
const adminUrl = baseUrl;
const url = (() => {
  const u = new URL(poolOptionsFromUrl(baseUrl).uri);
  u.pathname = `/${DATABASE}`;
  return u.toString();
})();

const admin = await mysql.createConnection({ uri: adminUrl, charset: "utf8mb4" });
const [[version]] = (await admin.query("SELECT VERSION() AS v")) as unknown as [[{ v: string }]];
await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
await admin.query(`DROP TABLE IF EXISTS ${DATABASE}.bench_kv, ${DATABASE}.bench_log`);
await admin.query(`CREATE TABLE ${DATABASE}.bench_kv (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, v INT NOT NULL)`);
await admin.query(
  `CREATE TABLE ${DATABASE}.bench_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(100) NOT NULL, ts BIGINT NOT NULL)`,
);
for (let from = 1; from <= ROWS; from += 1000) {
  const rows = Array.from({ length: 1000 }, (_, i) => [from + i, `user-${from + i}`, (from + i) * 7]);
  await admin.query(`INSERT INTO ${DATABASE}.bench_kv (id, name, v) VALUES ?`, [rows]);
}

async function openConnections(): Promise<number> {
  const [rows] = (await admin.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?", [DATABASE])) as unknown as [
    Array<{ n: number }>,
  ];
  return Number(rows[0]!.n);
}

// ---------------------------------------------------------------- contestants

function perQuery(): Contestant {
  const once = async (sql: string, params: unknown[]) => {
    const conn = await mysql.createConnection({ uri: url, charset: "utf8mb4", trace: false });
    try {
      return await conn.execute(sql, params as never);
    } finally {
      await conn.end();
    }
  };
  return {
    key: "per-query",
    name: "connection per query",
    start: async () => {},
    select: (id) => once(SELECT_SQL, [id]),
    insert: (k) => once(INSERT_SQL, [k, PAYLOAD, Date.now()]),
    stop: async () => {},
  };
}

/** One mysql2 connection, no pool: the ceiling for any pool over mysql2, so only at concurrency 1. */
function single(): Contestant {
  let conn: mysql.Connection;
  return {
    key: "single",
    name: "one mysql2 connection",
    only: [1],
    start: async () => {
      conn = await mysql.createConnection({ uri: url, charset: "utf8mb4", trace: false });
    },
    select: (id) => conn.execute(SELECT_SQL, [id]),
    insert: (k) => conn.execute(INSERT_SQL, [k, PAYLOAD, Date.now()]),
    stop: () => conn.end(),
  };
}

function ours(): Contestant {
  const pool = createPool({ ...poolOptionsFromUrl(url), maxSize: MAX, initSize: MAX });
  return {
    key: "ours",
    name: "our pool",
    start: async () => {
      const leases = await Promise.all(Array.from({ length: MAX }, () => pool.lease()));
      for (const l of leases) l.release();
    },
    select: (id) => pool.execute(SELECT_SQL, [id]),
    insert: (k) => pool.execute(INSERT_SQL, [k, PAYLOAD, Date.now()]),
    stop: () => pool.close(),
  };
}

function mysql2Pool(): Contestant {
  const pool = mysql.createPool({ uri: url, charset: "utf8mb4", trace: false, connectionLimit: MAX, maxIdle: MAX });
  return {
    key: "mysql2",
    name: "mysql2 createPool",
    start: async () => {
      const conns = await Promise.all(Array.from({ length: MAX }, () => pool.getConnection()));
      for (const c of conns) c.release();
    },
    select: (id) => pool.execute(SELECT_SQL, [id]),
    insert: (k) => pool.execute(INSERT_SQL, [k, PAYLOAD, Date.now()]),
    stop: () => pool.end(),
  };
}

function bunSql(): Contestant {
  const sql = new SQL(url, { max: MAX });
  return {
    key: "bun-sql",
    name: "Bun SQL",
    start: async () => {
      // MAX statements that each hold a connection for a moment: Bun opens MAX connections.
      await Promise.all(Array.from({ length: MAX }, () => sql`SELECT SLEEP(0.05)`));
    },
    select: (id) => sql`SELECT id, name, v FROM bench_kv WHERE id = ${id}`,
    insert: (k) => sql`INSERT INTO bench_log (k, payload, ts) VALUES (${k}, ${PAYLOAD}, ${Date.now()})`,
    stop: () => sql.close(),
  };
}

const wanted = listArg("contestants");
const contestants = [perQuery(), single(), ours(), mysql2Pool(), bunSql()].filter((c) => !wanted || wanted.includes(c.key));

// ---------------------------------------------------------------- stub microbenchmark

interface MicroResult {
  name: string;
  nsPerOp: number;
  p50Ns: number;
  p99Ns: number;
}

async function microbench(): Promise<MicroResult[]> {
  const driver = new FakeDriver(false);
  const stub = createPool({ createConnection: driver.createConnection, maxSize: MAX, initSize: 0 });
  const warm = await Promise.all(Array.from({ length: MAX }, () => stub.lease()));
  for (const l of warm) l.release();
  const out: MicroResult[] = [];
  const record = (name: string, s: { avg: number; p50: number; p99: number }, perCall = 1) =>
    out.push({ name, nsPerOp: s.avg / perCall, p50Ns: s.p50 / perCall, p99Ns: s.p99 / perCall });

  record(
    "await of a resolved promise (harness floor)",
    await measure(async () => {
      do_not_optimize(await Promise.resolve(1));
    }),
  );
  record(
    "lease() + release(), idle connection available",
    await measure(async () => {
      const lease = await stub.lease();
      lease.release();
    }),
  );
  record(
    "pool.execute() on the stub (lease, execute, release)",
    await measure(async () => {
      do_not_optimize(await stub.execute(SELECT_SQL, [1]));
    }),
  );
  // 2*MAX borrowers on MAX connections: half of them always queue (waiter path, one deadline timer).
  const inFlight = 2 * MAX;
  record(
    `lease() + release() with ${inFlight} in flight on ${MAX} connections (queued)`,
    await measure(
      async () => {
        const lease = await stub.lease();
        await Promise.resolve();
        lease.release();
      },
      { concurrency: inFlight },
    ),
    inFlight,
  );
  await stub.close();
  return out;
}

// ---------------------------------------------------------------- run

interface Cell {
  workload: Workload;
  concurrency: number;
  contestant: string;
  name: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Client (this process) CPU time per operation, µs: median round. */
  cpuUsPerOp: number;
  /** ops/s of each round. */
  rounds: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const loadBefore = loadavg();
console.log(
  `MariaDB ${version.v}, Bun ${Bun.version}, ${cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, ${quick ? "quick" : "full"} run`,
);
console.log(`max size ${MAX}; ${ROUNDS} round(s) of ${WARMUP_MS} ms warm-up + ${DURATION_MS} ms per cell\n`);

console.log("stub microbenchmark (no network) ...");
const micro = await microbench();
console.log(
  table(
    ["operation (stub connection)", "ns/op", "p50 ns", "p99 ns"],
    micro.map((m) => [m.name, m.nsPerOp, m.p50Ns, m.p99Ns]),
  ),
);
console.log();

for (const c of contestants) {
  const before = await openConnections();
  await c.start();
  if (c.key !== "per-query" && c.key !== "single") console.log(`${c.name}: ${(await openConnections()) - before} connections opened by warm-up`);
}
// Leave the measured pools as the only connections: the others stay open but idle.

const cells: Cell[] = [];
for (const workload of WORKLOADS) {
  for (const concurrency of CONCURRENCY) {
    const parts = new Map<string, LoadResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no contestant always runs first.
      const here = contestants.filter((c) => !c.only || c.only.includes(concurrency));
      const order = here.map((_, i) => here[(i + round) % here.length]!);
      for (const c of order) {
        const op =
          workload === "select"
            ? () => c.select(1 + Math.floor(Math.random() * ROWS))
            : () => c.insert(Math.floor(Math.random() * 1_000_000));
        const r = await closedLoop(op, { concurrency, warmupMs: WARMUP_MS, durationMs: DURATION_MS });
        parts.set(c.key, [...(parts.get(c.key) ?? []), r]);
      }
    }
    for (const c of contestants) {
      const rs = parts.get(c.key);
      if (!rs) continue;
      const lat = concat(rs.map((r) => r.latencies));
      const ops = rs.reduce((n, r) => n + r.ops, 0);
      const seconds = rs.reduce((n, r) => n + r.seconds, 0);
      const rounds = rs.map((r) => r.ops / r.seconds);
      const cell: Cell = {
        workload,
        concurrency,
        contestant: c.key,
        name: c.name,
        ops,
        seconds,
        opsPerSec: median(rounds),
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        meanMs: lat.reduce((a, b) => a + b, 0) / lat.length,
        cpuUsPerOp: median(rs.map((r) => (r.cpuMs * 1000) / r.ops)),
        rounds,
      };
      cells.push(cell);
      console.log(
        `${workload.padEnd(6)} c=${String(concurrency).padEnd(2)} ${c.name.padEnd(22)} ${fmt(cell.opsPerSec).padStart(8)} ops/s  p50 ${fmt(cell.p50Ms * 1000).padStart(6)} µs  p99 ${fmt(cell.p99Ms * 1000).padStart(7)} µs  cpu ${fmt(cell.cpuUsPerOp).padStart(5)} µs/op`,
      );
    }
  }
}

for (const c of contestants) await c.stop();
await admin.end();

// ---------------------------------------------------------------- report

const find = (w: Workload, n: number, key: string) => cells.find((c) => c.workload === w && c.concurrency === n && c.contestant === key);
const ratio = (w: Workload, n: number, other: string) => {
  const a = find(w, n, "ours");
  const b = find(w, n, other);
  return a && b ? a.opsPerSec / b.opsPerSec : NaN;
};

console.log("\nthroughput and latency per operation");
console.log(
  table(
    ["workload", "conc", "contestant", "ops/s", "p50 µs", "p99 µs", "client cpu µs/op"],
    cells.map((c) => [c.workload, c.concurrency, c.name, c.opsPerSec, c.p50Ms * 1000, c.p99Ms * 1000, c.cpuUsPerOp]),
  ),
);

const ratios = WORKLOADS.flatMap((w) =>
  CONCURRENCY.map((n) => ({
    workload: w,
    concurrency: n,
    vsPerQuery: ratio(w, n, "per-query"),
    vsMysql2: ratio(w, n, "mysql2"),
    vsBunSql: ratio(w, n, "bun-sql"),
    vsSingle: ratio(w, n, "single"),
  })),
);
console.log("\nour pool's throughput relative to each contestant (>1 = ours faster)");
console.log(
  table(
    ["workload", "conc", "÷ per-query", "÷ mysql2 pool", "÷ Bun SQL", "÷ one connection"],
    ratios.map((r) => [r.workload, r.concurrency, r.vsPerQuery, r.vsMysql2, r.vsBunSql, Number.isNaN(r.vsSingle) ? "" : r.vsSingle]),
  ),
);

const leaseNs = micro.find((m) => m.name.startsWith("lease() + release(), idle"))!.nsPerOp;
const targets = [
  ...[1, 16].flatMap((n) => [
    { target: `select c=${n}: at least as fast as mysql2 createPool`, value: ratio("select", n, "mysql2"), ok: ratio("select", n, "mysql2") >= 1 },
    { target: `select c=${n}: within 10% of Bun SQL`, value: ratio("select", n, "bun-sql"), ok: ratio("select", n, "bun-sql") >= 0.9 },
    { target: `select c=${n}: >= 10x connection per query`, value: ratio("select", n, "per-query"), ok: ratio("select", n, "per-query") >= 10 },
  ]),
  { target: "lease()+release() on the stub < 1 µs", value: leaseNs, ok: leaseNs < 1000 },
];
console.log(`\nload average now ${loadavg().map((l) => l.toFixed(2)).join(" ")} (${cpus().length} CPUs): figures from a busy machine are noisy`);
console.log("\ntargets");
console.log(
  table(
    ["target", "measured", "met"],
    targets.map((t) => [t.target, Number.isNaN(t.value) ? "n/a" : fmt(t.value), Number.isNaN(t.value) ? "n/a" : t.ok ? "yes" : "NO"]),
  ),
);

const report = {
  startedAt,
  quick,
  environment: {
    bun: Bun.version,
    mariadb: version.v,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    platform: process.platform,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
  },
  settings: { maxSize: MAX, concurrency: CONCURRENCY, rounds: ROUNDS, warmupMs: WARMUP_MS, durationMs: DURATION_MS, rows: ROWS, selectSql: SELECT_SQL, insertSql: INSERT_SQL },
  micro,
  cells,
  ratios,
  targets,
};
const resultsDir = join(import.meta.dir, "results");
mkdirSync(resultsDir, { recursive: true });
const stamp = report.startedAt.replace(/[:.]/g, "-");
const json = JSON.stringify(report, null, 2) + "\n";
writeFileSync(join(resultsDir, `pool-${stamp}.json`), json);
writeFileSync(join(resultsDir, "pool-latest.json"), json);
console.log(`\nwrote bench/results/pool-${stamp}.json and pool-latest.json`);

