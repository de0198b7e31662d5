/**
 * A private three-node MariaDB Galera cluster on loopback for integration
 * tests: free ports, data under .data/galera-<pid>-<n>, each node's config
 * made from deploy/galera/galera.cnf (galeraCnf), the first node bootstrapped
 * with --wsrep-new-cluster and the others joining it by state transfer. It
 * signals only the processes it started, by their pids.
 *
 * Slow to start (a state transfer per joiner): start one per test file, in
 * beforeAll, and stop it in afterAll. CHAT_KEEP_GALERA=1 keeps the data
 * directories (and the nodes' logs) after stop().
 */
import { type Subprocess } from "bun";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import mysql from "mysql2/promise";
import { galeraCnf } from "../../deploy/galera/galera-cnf.ts";
import { freePort, waitFor, which } from "../../scripts/services.ts";

/** The user the chat nodes connect as, created on the first node (Galera replicates it). */
export const GALERA_USER = "chat";
export const GALERA_PASSWORD = "chat";
const PROVIDER = "/usr/lib/galera/libgalera_smm.so";

export interface GaleraMember {
  name: string;
  /** Its MySQL port on 127.0.0.1. */
  port: number;
  /** 127.0.0.1:port, as a host list names it. */
  host: string;
  dir: string;
  /** The running mariadbd, if any (undefined once killed or stopped). */
  process: Subprocess | undefined;
}

export interface GaleraCluster {
  members: GaleraMember[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`: the host list, writer first. */
  hostList: string;
  /** mysql://chat:chat@<host list>/<database>. */
  url(database?: string): string;
  /** SIGKILLs member i (no shutdown: what a crashed machine does to its clients' connections). */
  kill(i: number): Promise<void>;
  /** Starts member i again; it rejoins (IST, or SST if gcache no longer covers it) and resolves once Synced. */
  restart(i: number): Promise<void>;
  /** Runs statements as root over member i's socket (no placeholders: fixed SQL only); resolves to each one's rows. */
  admin(i: number, statements: string[]): Promise<unknown[]>;
  /** wsrep_local_state_comment and wsrep_cluster_size of member i, over its socket. */
  state(i: number): Promise<{ state: string; size: number }>;
  /** Stops every member this cluster started (SIGTERM, SIGKILL after 20 s) and removes the data. */
  stop(): Promise<void>;
}

let clusters = 0;

/** Why Galera tests cannot run here, or undefined: mariadbd, the provider and rsync (the state transfer) must be installed. */
export function galeraMissing(): string | undefined {
  if (!which("mariadbd") || !which("mariadb-install-db")) return "mariadbd not found: run `sh scripts/bootstrap.sh test`";
  if (!existsSync(PROVIDER)) return `${PROVIDER} not found: run \`sh scripts/bootstrap.sh test\` (installs galera-4)`;
  if (!which("rsync")) return "rsync not found (Galera's state transfer): run `sh scripts/bootstrap.sh test`";
  return undefined;
}

/** Starts a cluster of `size` (default 3) and resolves once every member is Synced in one primary component. */
export async function startGalera(opts: { size?: number } = {}): Promise<GaleraCluster> {
  const missing = galeraMissing();
  if (missing) throw new Error(missing);
  const size = opts.size ?? 3;
  const root = resolve(import.meta.dir, `../../.data/galera-${process.pid}-${++clusters}`);
  rmSync(root, { recursive: true, force: true });
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ mysql: await freePort(), gcomm: await freePort(), ist: await freePort(), sst: await freePort() });
  const gcomm = ports.map((p) => `127.0.0.1:${p.gcomm}`);
  const members: GaleraMember[] = ports.map((p, i) => {
    const dir = join(root, `n${i + 1}`);
    mkdirSync(join(dir, "data"), { recursive: true });
    const name = `g${i + 1}`;
    const cnf = galeraCnf({ name, address: "127.0.0.1", ports: { gcomm: p.gcomm, ist: p.ist, sst: p.sst }, gcacheSize: "32M" }, gcomm);
    writeFileSync(join(dir, "galera.cnf"), cnf);
    return { name, port: p.mysql, host: `127.0.0.1:${p.mysql}`, dir, process: undefined };
  });
  handOver(root);
  const cluster = new Cluster(members);
  try {
    await installDb(join(members[0]!.dir, "data"));
    await cluster.launch(0, true);
    await cluster.synced(0, 1);
    await cluster.admin(0, [
      `CREATE USER IF NOT EXISTS '${GALERA_USER}'@'%' IDENTIFIED BY '${GALERA_PASSWORD}'`,
      `GRANT ALL PRIVILEGES ON *.* TO '${GALERA_USER}'@'%'`,
      "CREATE DATABASE IF NOT EXISTS chat CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    ]);
    // The joiners together: the donor serves one state transfer at a time and the other joiner asks again until served.
    for (let i = 1; i < size; i++) await cluster.launch(i, false);
    await Promise.all(members.slice(1).map((_, k) => cluster.synced(k + 1, size)));
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/**
 * The account mariadbd runs as. As root, the mysql user the Debian package
 * creates, as on a real database VM: the rsync state transfer runs an rsync
 * daemon as the server's user, and one started by root drops to nobody,
 * which then may not write the joiner's data directory.
 */
function serverUser(): string[] {
  if (process.getuid?.() !== 0) return [];
  const p = Bun.spawnSync(["id", "-u", "mysql"]);
  if (p.exitCode !== 0) throw new Error("running as root, Galera's rsync state transfer needs the mysql user (the mariadb-server package creates it)");
  return ["--user=mysql"];
}

/** Hands `dir` to the server's account (see serverUser). */
function handOver(dir: string): void {
  if (serverUser().length === 0) return;
  const p = Bun.spawnSync(["chown", "-R", "mysql:mysql", dir]);
  if (p.exitCode !== 0) throw new Error(`chown -R mysql:mysql ${dir} failed: ${p.stderr.toString()}`);
}

async function installDb(data: string): Promise<void> {
  const args = ["--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...serverUser()];
  const p = Bun.spawn([which("mariadb-install-db")!, ...args], { stdout: "pipe", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`mariadb-install-db failed: ${await new Response(p.stderr).text()}`);
}

class Cluster implements GaleraCluster {
  readonly hostList: string;

  constructor(readonly members: GaleraMember[]) {
    this.hostList = members.map((m) => m.host).join(",");
  }

  url(database = "chat"): string {
    return `mysql://${GALERA_USER}:${GALERA_PASSWORD}@${this.hostList}/${database}`;
  }

  /** Starts mariadbd for member i with its generated config; `bootstrap` makes it a new cluster's first node. */
  async launch(i: number, bootstrap: boolean): Promise<void> {
    const m = this.member(i);
    if (m.process) throw new Error(`${m.name} is already running`);
    const args = [
      `--defaults-file=${join(m.dir, "galera.cnf")}`,
      `--datadir=${join(m.dir, "data")}`,
      `--socket=${join(m.dir, "mariadb.sock")}`,
      `--port=${m.port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${join(m.dir, "mariadb.pid")}`,
      `--log-error=${join(m.dir, "mariadb.log")}`,
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_bin",
      "--innodb-buffer-pool-size=64M",
      "--innodb-log-file-size=16M",
      // Tests lose nothing to a killed mariadbd with this (only an OS crash could); Galera's other copies cover that anyway.
      "--innodb-flush-log-at-trx-commit=2",
      "--max-connections=500",
      "--skip-log-bin",
      ...(bootstrap ? ["--wsrep-new-cluster"] : []),
      ...serverUser(),
    ];
    m.process = Bun.spawn([which("mariadbd")!, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const proc = m.process;
    void proc.exited.then(() => {
      if (m.process === proc) m.process = undefined;
    });
  }

  /** Resolves once member i is Synced in a primary component of at least `size` members. */
  async synced(i: number, size: number, ms = 60_000): Promise<void> {
    const m = this.member(i);
    await waitFor(
      `Galera node ${m.name} (Synced, cluster size ${size})`,
      async () => {
        if (!m.process) throw new Error(`${m.name} exited while starting:\n${this.#logTail(m)}`);
        const s = await this.state(i).catch(() => undefined);
        return s !== undefined && s.state === "Synced" && s.size >= size;
      },
      ms,
      join(m.dir, "mariadb.log"),
    );
  }

  async state(i: number): Promise<{ state: string; size: number }> {
    const rows = await this.admin(i, ["SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size')"]);
    const v = new Map((rows[0] as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]));
    return { state: v.get("wsrep_local_state_comment") ?? "", size: Number(v.get("wsrep_cluster_size") ?? 0) };
  }

  /** Runs statements as root over member i's socket; resolves to each one's rows. */
  async admin(i: number, statements: string[]): Promise<unknown[]> {
    const conn = await mysql.createConnection({ socketPath: join(this.member(i).dir, "mariadb.sock"), user: "root", connectTimeout: 2_000 });
    try {
      const out: unknown[] = [];
      for (const sql of statements) out.push((await conn.query(sql))[0]);
      return out;
    } finally {
      conn.destroy();
    }
  }

  async kill(i: number): Promise<void> {
    const p = this.member(i).process;
    if (!p) return;
    p.kill("SIGKILL");
    await p.exited;
  }

  async restart(i: number): Promise<void> {
    await this.launch(i, false);
    await this.synced(i, this.members.filter((m) => m.process).length);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.process;
        if (!p) return;
        p.kill("SIGTERM");
        const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
    const root = resolve(this.member(0).dir, "..");
    if (!process.env.CHAT_KEEP_GALERA) rmSync(root, { recursive: true, force: true });
  }

  member(i: number): GaleraMember {
    const m = this.members[i];
    if (!m) throw new RangeError(`no member ${i} in a cluster of ${this.members.length}`);
    return m;
  }

  #logTail(m: GaleraMember): string {
    const log = join(m.dir, "mariadb.log");
    return existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "(no log)";
  }
}
