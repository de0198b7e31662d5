/**
 * What runs in the lab: a three-node MariaDB Galera cluster in db1-db3, the
 * Redis primary in db, its replica in db1, a sentinel on each of the three
 * "VMs", all set up
 * with the deploy guide's own config lines and SQL; and on each VM a chat
 * node (nginx and keepalived on VM 1 and 2) configured exactly as
 * deploy/install.sh configures a real VM (it stages each VM in a directory
 * with --root, and the lab runs what it wrote), serving TLS with
 * deploy/make-certs.sh's certificate, finding Redis through the sentinels.
 */
import { spawnSync } from "node:child_process";
import { createClient } from "redis";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GALERA_PORTS, galeraCnf } from "../galera/galera-cnf.ts";
import { fill, guideBlock } from "./guide.ts";
import type { Launcher, Started } from "./launch.ts";
import { addressesIn, type Topology } from "./netns.ts";
import { alive, crash, type Recorded } from "./procs.ts";
import { tailOf, waitUntil } from "../../test/support/wait.ts";
import { spawnNode } from "../../test/support/node.ts";
import { type LabTls, tcpGreets, tcpHello } from "./probes.ts";

export const CHAT_PORT = 6000;
export const ADMIN_PORT = 6001;
export const VIP_PORT = 8000;
/** nginx's HTTPS port for browsers on the VIP (install.sh's default). */
export const VIP_WEB_PORT = 8443;
export const MYSQL_PORT = 3306;
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** The primary's name the sentinels watch and the nodes ask for (the guide's). */
export const REDIS_MASTER = "chat";
/** The lab's sentinels decide faster than the guide's 5 s: the whole lab must run in minutes. */
const LAB_DOWN_AFTER_MS = 1000;
const LAB_FAILOVER_TIMEOUT_MS = 5000;
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
const REPO = resolve(import.meta.dir, "../..");
/** The lab's passwords, in place of the guide's NODE-PASSWORD, MIGRATE-PASSWORD and REDIS-PASSWORD. */
const NODE_PASSWORD = "lab-node-pw";
const MIGRATE_PASSWORD = "lab-migrate-pw";
const REDIS_PASSWORD = "lab-redis-pw";
/** systemd's TimeoutStopSec in chat.service: how long a graceful stop may take before SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;
const INSTALL = join(REPO, "deploy/install.sh");
/** systemctl for install.sh in the lab: hands each call to Stack.upgrade. */
const SYSTEMCTL = join(REPO, "deploy/lab/systemctl.sh");

export type Vm = "vm1" | "vm2" | "vm3";
/** Every VM runs a chat node and a sentinel. */
export const VMS: Vm[] = ["vm1", "vm2", "vm3"];
/** VM 1 and 2 also run nginx and keepalived (the VIP); VM 3 only its chat node behind them. */
export const BALANCERS: Vm[] = ["vm1", "vm2"];
/** The Redis primary on db (the two-VM guide's database host), its replica on db1. */
export type RedisHost = "db" | "db1";
export const REDIS_HOSTS: RedisHost[] = ["db", "db1"];
/** The Galera cluster of the guide's "A Galera cluster", the chat nodes' host list in this order. */
export type GaleraHost = "db1" | "db2" | "db3";
export const GALERA_HOSTS: GaleraHost[] = ["db1", "db2", "db3"];

export interface StackOptions {
  /** The lab's data directory (.data/lab-<pid>). */
  dir: string;
  /** Where each VM is staged; must be a path only root can write (keepalived's script security). */
  vmRoot: (vm: Vm) => string;
  /** The chat executable to install on the VMs. */
  binary: string;
  /** What deploy/make-certs.sh wrote (makeLabCerts). */
  certs: LabCerts;
}

export interface LabCerts {
  cert: string;
  key: string;
  tls: LabTls;
}

/**
 * Step 2 of the guide: deploy/make-certs.sh for the VIP and both VMs'
 * addresses, into `dir`. The clients trust the authority it made.
 */
export function makeLabCerts(dir: string, topo: Topology): LabCerts {
  const r = spawnSync("bash", [join(REPO, "deploy/make-certs.sh"), "--dir", dir, topo.addr.vip, topo.addr.vm1, topo.addr.vm2, topo.addr.vm3], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`deploy/make-certs.sh failed:\n${r.stdout}${r.stderr}`);
  return { cert: join(dir, "chat.pem"), key: join(dir, "chat.key"), tls: { ca: readFileSync(join(dir, "ca.pem"), "utf8") } };
}

export class Stack {
  /** The nodes' user (rows only) and the migration user, as the guide's SQL makes them. */
  readonly mysqlUrl: string;
  readonly migrateUrl: string;
  /** The nodes' --redis-sentinels. */
  readonly sentinelList: string;
  readonly tls: LabTls;
  readonly redis: Partial<Record<RedisHost, Started>> = {};
  readonly galera: Partial<Record<GaleraHost, Started>> = {};
  readonly sentinel: Partial<Record<Vm, Started>> = {};
  readonly chat: Partial<Record<Vm, Started>> = {};
  readonly nginx: Partial<Record<Vm, Started>> = {};
  readonly keepalived: Partial<Record<Vm, Started>> = {};

  constructor(
    readonly topo: Topology,
    readonly launcher: Launcher,
    readonly opts: StackOptions,
  ) {
    // The guide's host list: the same order everywhere, the writer first.
    const hosts = GALERA_HOSTS.map((h) => `${topo.addr[h]}:${MYSQL_PORT}`).join(",");
    this.mysqlUrl = `mysql://chat:${NODE_PASSWORD}@${hosts}/chat`;
    this.migrateUrl = `mysql://chat_migrate:${MIGRATE_PASSWORD}@${hosts}/chat`;
    this.sentinelList = VMS.map((vm) => `${topo.addr[vm]}:${SENTINEL_PORT}`).join(",");
    this.tls = opts.certs.tls;
  }

  /** A block of the guide with its example network (10.0.0.x) and passwords replaced by the lab's. */
  #guide(name: string, passwords: Record<string, string> = {}): string {
    return fill(guideBlock(name), { "10.0.0.": `${this.topo.net}.`, ...passwords });
  }

  root(vm: Vm): string {
    return this.opts.vmRoot(vm);
  }

  /**
   * The database: "A Galera cluster" of the guide on db1, db2 and db3, each
   * with step 3's `[mysqld]` lines (bound to loopback and its own address)
   * and deploy/galera/galera.cnf filled in for it; db1 bootstraps the
   * cluster, gets step 3's SQL for the two users (and the third VM's), and
   * the other two join by state transfer.
   */
  async startDatabases() {
    const first = GALERA_HOSTS[0]!;
    const data = join(this.#galeraDir(first), "data");
    mkdirSync(data, { recursive: true });
    this.#handToMysql(this.#galeraDir(first));
    await this.launcher.run(
      first,
      ["mariadb-install-db", "--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", "--user=mysql"],
      120_000,
    );
    await this.startGalera(first, true);
    await this.galeraSynced(first, 1);
    const grants = [
      this.#guide("grants", { "NODE-PASSWORD": NODE_PASSWORD, "MIGRATE-PASSWORD": MIGRATE_PASSWORD }),
      this.#guide("grants-third-vm", { "NODE-PASSWORD": NODE_PASSWORD }),
    ].join("\n");
    await this.galeraSql(first, grants);
    // The joiners together: the donor serves one state transfer at a time, the other asks again until served.
    for (const h of GALERA_HOSTS.slice(1)) {
      mkdirSync(join(this.#galeraDir(h), "data"), { recursive: true });
      this.#handToMysql(this.#galeraDir(h));
      await this.startGalera(h, false);
    }
    await Promise.all(GALERA_HOSTS.map((h) => this.galeraSynced(h, GALERA_HOSTS.length)));
  }

  #galeraDir(host: GaleraHost): string {
    return join(this.opts.dir, `galera-${host}`);
  }

  /** mariadbd runs as mysql, as on a Debian VM: the rsync state transfer runs its daemon as the server's user. */
  #handToMysql(dir: string) {
    const r = spawnSync("chown", ["-R", "mysql:mysql", dir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`chown -R mysql:mysql ${dir}: ${r.stderr}`);
  }

  /** Starts (again) the Galera node on `host`: `bootstrap` makes it a new cluster's first node. */
  async startGalera(host: GaleraHost, bootstrap = false) {
    const dir = this.#galeraDir(host);
    const cnf = join(dir, "60-chat-galera.cnf");
    if (!existsSync(cnf)) {
      const members = GALERA_HOSTS.map((h) => `${this.topo.addr[h]}:${GALERA_PORTS.gcomm}`);
      // The guide's two files in one: step 3's [mysqld] lines with this node's address, then galera.cnf for this node.
      const chat = this.#guide("mariadb-cnf").replace(`bind-address = 127.0.0.1,${this.topo.addr.db}`, `bind-address = 127.0.0.1,${this.topo.addr[host]}`);
      if (!chat.includes(this.topo.addr[host])) throw new Error("the guide's mariadb-cnf block no longer has the bind-address line the lab replaces");
      writeFileSync(cnf, `${chat}\n${galeraCnf({ name: host, address: this.topo.addr[host] }, members)}\n`);
    }
    this.galera[host] = await this.launcher.spawn(
      host,
      // What a Debian package's own config would add: paths and sizes.
      ["mariadbd", `--defaults-file=${cnf}`, `--datadir=${join(dir, "data")}`, `--socket=${join(dir, "mariadb.sock")}`, `--port=${MYSQL_PORT}`,
        `--pid-file=${join(dir, "mariadb.pid")}`, "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
        "--max-connections=1000", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2", "--user=mysql",
        ...(bootstrap ? ["--wsrep-new-cluster"] : [])],
      `galera-${host}`,
    );
  }

  /** Runs SQL as root over the node's socket (no network involved); its tab-separated output. */
  async galeraSql(host: GaleraHost, sql: string): Promise<string> {
    return this.launcher.run(host, ["mariadb", "--no-defaults", "-uroot", `--socket=${join(this.#galeraDir(host), "mariadb.sock")}`, "-N", "-B", "-e", sql], 15_000);
  }

  /** The node's wsrep state, cluster size and status; undefined while it does not answer. */
  async galeraState(host: GaleraHost): Promise<{ state: string; size: number; status: string } | undefined> {
    const out = await this.galeraSql(
      host,
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_cluster_status')",
    ).catch(() => undefined); // starting, or killed
    if (out === undefined) return undefined;
    const v = new Map(out.trim().split("\n").map((l) => l.split("\t") as [string, string]));
    return { state: v.get("wsrep_local_state_comment") ?? "", size: Number(v.get("wsrep_cluster_size") ?? 0), status: v.get("wsrep_cluster_status") ?? "" };
  }

  /** Resolves once `host` is Synced in a primary component of at least `size`. */
  async galeraSynced(host: GaleraHost, size: number, ms = 90_000): Promise<void> {
    await waitUntil(
      `Galera node ${host} Synced in a cluster of ${size}`,
      async () => {
        if (this.galera[host] && !alive(this.galera[host]!.rec)) throw new Error(`mariadbd on ${host} exited:\n${tailOf(this.galera[host]!.log)}`);
        const s = await this.galeraState(host);
        return s?.state === "Synced" && s.status === "Primary" && s.size >= size;
      },
      ms,
      { everyMs: 250, detail: () => tailOf(this.galera[host]?.log) },
    );
  }

  /** The Galera node that takes the chat nodes' writes: the one their pools write through (most client connections of user chat). */
  async galeraWriter(): Promise<GaleraHost | undefined> {
    const counts = await Promise.all(
      GALERA_HOSTS.map(async (h) => Number((await this.galeraSql(h, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'chat'").catch(() => "0")).trim())),
    );
    const most = Math.max(...counts);
    return most > 0 ? GALERA_HOSTS[counts.indexOf(most)] : undefined;
  }

  /**
   * A Redis host's config: the guide's four lines of step 3 with this host's
   * address, its replication lines, and on the replica `replicaof` the
   * primary. Written once: Sentinel rewrites the `replicaof` line as it
   * moves the primary (a restarted Redis comes back as what it was last).
   */
  #redisConf(host: RedisHost): string {
    const file = join(this.opts.dir, `redis-${host}.conf`);
    if (existsSync(file)) return file;
    const pw = { "REDIS-PASSWORD": REDIS_PASSWORD };
    const lines = [
      this.#guide("redis-conf", pw).replaceAll(this.topo.addr.db, this.topo.addr[host]),
      fill(guideBlock("redis-replication-conf"), pw), // no addresses in it
      ...(host === "db" ? [] : [`replicaof ${this.topo.addr.db} ${REDIS_PORT}`]),
      "",
    ];
    writeFileSync(file, lines.join("\n"));
    return file;
  }

  /** Starts (or starts again, after a kill) the Redis of `host`; resolves once it answers. */
  async startRedis(host: RedisHost) {
    const dir = join(this.opts.dir, `redis-${host}`);
    mkdirSync(dir, { recursive: true });
    this.redis[host] = await this.launcher.spawn(
      host,
      ["redis-server", this.#redisConf(host), "--port", String(REDIS_PORT), "--dir", dir, "--daemonize", "no"],
      `redis-${host}`,
    );
    await waitUntil(`Redis on ${host}`, () => tcpGreets(this.topo.addr[host], REDIS_PORT, "PING\r\n"), 10_000, { detail: () => tailOf(this.redis[host]?.log) });
  }

  /**
   * "Redis Sentinel": the primary on db (step 3's four lines and the
   * replication lines), the replica on db1, then the guide's sentinel.conf on
   * each VM (its address, the lab's password and faster decisions); resolves
   * once every sentinel knows the replica and the two other sentinels.
   */
  async startSentinels() {
    await this.startRedis("db");
    await this.startRedis("db1");
    await waitUntil("the replica in sync", async () => (await this.redisRole("db1"))?.link === "connected", 15_000, { detail: () => tailOf(this.redis.db1?.log) });
    for (const vm of VMS) {
      const conf = join(this.opts.dir, `sentinel-${vm}.conf`);
      const text = fill(this.#guide("sentinel-conf", { "REDIS-PASSWORD": REDIS_PASSWORD }), {
        [`bind 127.0.0.1 ${this.topo.addr.vm1}`]: `bind 127.0.0.1 ${this.topo.addr[vm]}`,
        "down-after-milliseconds chat 5000": `down-after-milliseconds chat ${LAB_DOWN_AFTER_MS}`,
        "failover-timeout chat 60000": `failover-timeout chat ${LAB_FAILOVER_TIMEOUT_MS}`,
      });
      // Sentinel rewrites its file as it learns the topology: one writable file each. In the foreground, logging to stdout.
      writeFileSync(conf, `${text}\ndaemonize no\ndir ${this.opts.dir}\n`);
      this.sentinel[vm] = await this.launcher.spawn(vm, ["redis-sentinel", conf], `sentinel-${vm}`);
    }
    await waitUntil(
      "every sentinel knows the replica and the others",
      async () => {
        for (const vm of VMS) {
          const replicas = (await this.askSentinel(vm, ["SENTINEL", "REPLICAS", REDIS_MASTER])) as unknown[] | undefined;
          const peers = (await this.askSentinel(vm, ["SENTINEL", "SENTINELS", REDIS_MASTER])) as unknown[] | undefined;
          if (!replicas?.length || (peers?.length ?? 0) < VMS.length - 1) return false;
        }
        return true;
      },
      30_000,
      { everyMs: 200, detail: () => VMS.map((vm) => tailOf(this.sentinel[vm]?.log, 8)).join("\n") },
    );
  }

  /** One command to a sentinel, on a fresh connection; undefined when it does not answer. */
  async askSentinel(vm: Vm, cmd: string[]): Promise<unknown> {
    return oneCommand(this.topo.addr[vm], SENTINEL_PORT, cmd);
  }

  /** The Redis host the sentinels name primary now (the first sentinel that answers decides). */
  async redisPrimary(): Promise<RedisHost | undefined> {
    for (const vm of VMS) {
      const r = (await this.askSentinel(vm, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", REDIS_MASTER])) as string[] | undefined;
      if (r) return REDIS_HOSTS.find((h) => this.topo.addr[h] === r[0]);
    }
    return undefined;
  }

  /** What a Redis host says it is (ROLE): primary, or replica and whether its link to the primary is up. */
  async redisRole(host: RedisHost): Promise<{ role: "master" | "slave"; link?: string } | undefined> {
    const r = (await oneCommand(this.topo.addr[host], REDIS_PORT, ["ROLE"], REDIS_PASSWORD)) as unknown[] | undefined;
    if (!r) return undefined;
    return r[0] === "master" ? { role: "master" } : { role: "slave", link: String(r[3]) };
  }

  /**
   * Stages the three VMs with deploy/install.sh --root, exactly as on real
   * VMs, with "Redis Sentinel"'s options (the third VM's nginx and
   * keepalived files are written but never started, as the guide says).
   */
  install() {
    const nodes = VMS.map((vm) => `${this.topo.addr[vm]}:${CHAT_PORT}`).join(",");
    const passwordFile = join(this.opts.dir, "redis-password");
    writeFileSync(passwordFile, `${REDIS_PASSWORD}\n`);
    for (const vm of VMS) {
      const r = spawnSync(
        "bash",
        [INSTALL, "--role", vm === "vm1" ? "master" : "backup", "--node", vm,
          "--iface", this.topo.iface, "--vip", `${this.topo.addr.vip}/24`, "--nodes", nodes,
          "--mysql", this.mysqlUrl, "--redis-sentinels", this.sentinelList, "--redis-master", REDIS_MASTER,
          "--redis-password-file", passwordFile, "--binary", this.opts.binary,
          "--listen-port", String(VIP_PORT), "--chat-port", String(CHAT_PORT), "--admin-port", String(ADMIN_PORT),
          // Loopback: only the VM's own keepalived check reads /healthz.
          "--admin-host", "127.0.0.1",
          "--tls-cert", this.opts.certs.cert, "--tls-key", this.opts.certs.key,
          "--root", this.root(vm)],
        { encoding: "utf8", timeout: 30_000 },
      );
      if (r.status !== 0) throw new Error(`deploy/install.sh for ${vm} failed:\n${r.stdout}${r.stderr}`);
    }
  }

  /** The guide's step 7, once, from vm1: `CHAT_MYSQL_URL=<the migration user's> chat migrate`. */
  async migrate(): Promise<string> {
    return this.launcher.run("vm1", ["env", `CHAT_MYSQL_URL=${this.migrateUrl}`, join(this.root("vm1"), "usr/local/bin/chat"), "migrate"], 60_000);
  }

  /**
   * What systemd would run: chat.service's ExecStart, in an environment of
   * just chat.env's variables and the unit's Environment= lines (so nothing
   * leaks in from the lab's own environment).
   */
  chatCommand(vm: Vm): { argv: string[]; env: Record<string, string> } {
    const root = this.root(vm);
    const unit = readFileSync(join(root, "etc/systemd/system/chat.service"), "utf8");
    const envFile = unit.match(/^EnvironmentFile=(.*)$/m)?.[1];
    if (envFile !== "/etc/chat/chat.env") throw new Error(`unexpected EnvironmentFile ${envFile}`);
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ...parseEnvFile(readFileSync(join(root, "etc/chat/chat.env"), "utf8")),
    };
    for (const [, k, v] of unit.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) env[k!] = v!;
    env.HOME = root; // the unit's StateDirectory, here inside the VM's directory
    const exec = unit.match(/^ExecStart=(.*)$/m)?.[1];
    if (!exec) throw new Error("chat.service has no ExecStart");
    const argv = expandExecStart(exec, env);
    if (argv[0] !== "/usr/local/bin/chat") throw new Error(`unexpected ExecStart binary ${argv[0]}`);
    return { argv: [join(root, "usr/local/bin/chat"), ...argv.slice(1)], env };
  }

  /** Starts the VM's chat node as systemd would, in its namespace; ready when its port says hello as `vm`. */
  async startChat(vm: Vm) {
    const { argv, env } = this.chatCommand(vm);
    await spawnNode({
      node: vm,
      host: this.topo.addr[vm],
      port: CHAT_PORT,
      adminPort: ADMIN_PORT,
      argv,
      ready: "hello",
      tls: this.tls,
      // cwd: the VM's directory, far from the source tree and node_modules.
      launch: async (cmd) => {
        const started = await this.launcher.spawn(vm, cmd, `chat-${vm}`, { cwd: this.root(vm), env });
        this.chat[vm] = started;
        return { proc: started.proc, logFile: started.log };
      },
    });
  }

  /**
   * What `systemctl restart chat` does: SIGTERM (the node drains), up to
   * TimeoutStopSec for it to exit, SIGKILL after that, then start it again.
   * Returns how long the stop took, or undefined if it needed SIGKILL.
   */
  async restartChat(vm: Vm): Promise<number | undefined> {
    const old = this.chat[vm];
    let stopMs: number | undefined;
    if (old && alive(old.rec)) {
      const t0 = Date.now();
      process.kill(old.rec.pid, "SIGTERM");
      let timer: Timer | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), STOP_TIMEOUT_MS)));
      const how = await Promise.race([old.proc.exited.then(() => "exited" as const), late]);
      clearTimeout(timer);
      if (how === "late") {
        crash([old.rec]);
        await old.proc.exited;
      } else stopMs = Date.now() - t0;
    }
    await this.startChat(vm);
    return stopMs;
  }

  /**
   * The guide's upgrade on one VM: `install.sh --upgrade` in the VM's
   * namespace (its /healthz wait reads the VM's loopback), with the lab
   * playing systemd for it: deploy/lab/systemctl.sh turns each call into a
   * request that this carries out. Returns install.sh's output, the calls it
   * made, and how long each node took to stop.
   */
  async upgrade(vm: Vm): Promise<{ output: string; calls: string[]; stopMs: (number | undefined)[] }> {
    const dir = join(this.opts.dir, `systemctl-${vm}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const calls: string[] = [];
    const stopMs: (number | undefined)[] = [];
    let failure: unknown;
    let running = true;
    const serve = (async () => {
      while (running) {
        for (const f of readdirSync(dir).filter((n) => n.endsWith(".req"))) {
          const request = readFileSync(join(dir, f), "utf8").trim();
          rmSync(join(dir, f));
          calls.push(request);
          let status = 1; // anything but a chat restart is refused: an upgrade asks for nothing else
          if (request === "restart chat") {
            try {
              stopMs.push(await this.restartChat(vm));
              status = 0;
            } catch (e) {
              failure ??= e;
            }
          }
          const done = join(dir, f.replace(/\.req$/, ".done"));
          writeFileSync(`${done}.tmp`, `${status}\n`);
          renameSync(`${done}.tmp`, done);
        }
        await Bun.sleep(20);
      }
    })();
    try {
      const output = await this.launcher.run(
        vm,
        ["env", `CHAT_INSTALL_SYSTEMCTL=${SYSTEMCTL}`, `CHAT_LAB_SYSTEMCTL_DIR=${dir}`,
          "bash", INSTALL, "--upgrade", "--root", this.root(vm), "--binary", this.opts.binary, "--wait", "30"],
        90_000,
      );
      return { output, calls, stopMs };
    } catch (e) {
      throw failure ?? e;
    } finally {
      running = false;
      await serve;
    }
  }

  /** keepalived's "Entering ... STATE" lines on `vm` so far: a VIP that moved shows there. */
  keepalivedTransitions(vm: Vm): string[] {
    const log = this.keepalived[vm]?.log;
    if (!log || !existsSync(log)) return [];
    return readFileSync(log, "utf8").split("\n").filter((l) => /Entering \w+ STATE/.test(l));
  }

  nginxPidFile(vm: Vm) {
    return join(this.root(vm), "run/nginx.pid");
  }

  async startNginx(vm: Vm) {
    const root = this.root(vm);
    const conf = join(root, "etc/nginx/lab-nginx.conf");
    // The main config: the lab's paths, in the foreground so the PID we
    // record is the master's. The stream and http blocks are the ones install.sh wrote.
    writeFileSync(
      conf,
      [
        `load_module ${STREAM_MODULE};`,
        "daemon off;",
        "worker_processes 2;",
        `pid ${this.nginxPidFile(vm)};`,
        `error_log ${join(root, "var/log/nginx/error.log")} info;`,
        "events { worker_connections 4096; }",
        `include ${join(root, "etc/nginx/chat-stream.conf")};`,
        `include ${join(root, "etc/nginx/chat-web.conf")};`,
        "",
      ].join("\n"),
    );
    const startLog = join(root, "var/log/nginx/error.log");
    this.nginx[vm] = await this.launcher.spawn(vm, ["nginx", "-p", `${root}/`, "-e", startLog, "-c", conf], `nginx-${vm}`);
    await waitUntil(`nginx on ${vm}`, async () => (await tcpHello(this.topo.addr[vm], VIP_PORT, 1_000, this.tls)) !== undefined, 10_000, { detail: () => tailOf(startLog) });
    this.launcher.reg.recordDescendants([this.nginx[vm]!.rec]);
  }

  /** All of a VM's nginx processes: the master (by its pid file, checked against ours) and its workers. */
  nginxProcesses(vm: Vm): Recorded[] {
    const master = this.nginx[vm]?.rec;
    if (!master || !alive(master)) return [];
    const pidFile = Number(readFileSync(this.nginxPidFile(vm), "utf8").trim());
    if (pidFile !== master.pid) throw new Error(`nginx pid file of ${vm} says ${pidFile}, we started ${master.pid}`);
    return [master, ...this.launcher.reg.recordDescendants([master])];
  }

  async startKeepalived(vm: Vm) {
    const root = this.root(vm);
    // Never outside the lab: the namespace must be ours and hold the lab
    // interface (which the host does not have, checked before anything ran).
    // launcher.spawn runs `ip netns exec <that namespace> keepalived ...` and
    // kills the process if it is found in any other network namespace.
    this.launcher.ns(vm);
    await this.launcher.run(vm, ["ip", "link", "show", "dev", this.topo.iface]);
    const conf = join(root, "etc/keepalived/keepalived.conf");
    this.keepalived[vm] = await this.launcher.spawn(
      vm,
      ["keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", conf, "-p", join(root, "run/keepalived.pid"),
        "-r", join(root, "run/keepalived-vrrp.pid")],
      `keepalived-${vm}`,
    );
    await Bun.sleep(200);
    this.launcher.reg.recordDescendants([this.keepalived[vm]!.rec]);
  }

  /** Which VMs hold the VIP right now. */
  async vipHolders(): Promise<Vm[]> {
    const held = await Promise.all(BALANCERS.map((vm) => addressesIn(this.topo.ns[vm], this.topo.iface)));
    return BALANCERS.filter((_, i) => held[i]!.includes(this.topo.addr.vip));
  }

  /** Log lines in which keepalived says it will not run the check script. */
  keepalivedComplaints(vm: Vm): string[] {
    const log = this.keepalived[vm]?.log;
    if (!log || !existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => /unsafe|insecure|security|not executable|disabl|cannot|No such/i.test(l) && !/enable_script_security/.test(l));
  }
}

/** One command on a fresh connection (password: the Redis one), or undefined when it fails. */
async function oneCommand(host: string, port: number, cmd: string[], password?: string): Promise<unknown> {
  const c = createClient({ socket: { host, port, connectTimeout: 1000, reconnectStrategy: false }, password });
  c.on("error", () => {}); // the rejected command carries it
  try {
    await c.connect();
    return await c.sendCommand(cmd);
  } catch {
    return undefined; // not up, or refused: the caller polls
  } finally {
    c.destroy();
  }
}

/** KEY=value lines; # comments and blank lines skipped; no quoting needed by our file. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return env;
}

/** systemd's rules: `${VAR}` is one word, `$VAR` splits on whitespace (empty: no word). */
export function expandExecStart(exec: string, env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const word of exec.trim().split(/\s+/)) {
    const whole = word.match(/^\$([A-Za-z_][A-Za-z0-9_]*)$/);
    if (whole) out.push(...(env[whole[1]!] ?? "").split(/\s+/).filter(Boolean));
    else out.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k: string) => env[k] ?? ""));
  }
  return out;
}
