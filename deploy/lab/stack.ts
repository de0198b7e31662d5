/**
 * What runs in the lab: MariaDB and Redis in the db namespace, and on each
 * "VM" a chat node, nginx and keepalived configured exactly as
 * deploy/install.sh configures a real VM (it stages each VM in a directory
 * with --root, and the lab runs what it wrote).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Launcher, Started } from "./launch.ts";
import { addressesIn, type Topology } from "./netns.ts";
import { alive, type Recorded } from "./procs.ts";
import { tailOf, waitUntil } from "../../test/support/wait.ts";
import { spawnNode } from "../../test/support/node.ts";
import { tcpGreets, tcpHello } from "./probes.ts";

export const CHAT_PORT = 6000;
export const ADMIN_PORT = 6001;
export const VIP_PORT = 8000;
export const MYSQL_PORT = 3306;
export const REDIS_PORT = 6379;
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
const REPO = resolve(import.meta.dir, "../..");

export type Vm = "vm1" | "vm2";
export const VMS: Vm[] = ["vm1", "vm2"];

export interface StackOptions {
  /** The lab's data directory (.data/lab-<pid>). */
  dir: string;
  /** Where each VM is staged; must be a path only root can write (keepalived's script security). */
  vmRoot: (vm: Vm) => string;
  /** The chat executable to install on the VMs. */
  binary: string;
}

export class Stack {
  readonly mysqlUrl: string;
  readonly redisUrl: string;
  readonly chat: Partial<Record<Vm, Started>> = {};
  readonly nginx: Partial<Record<Vm, Started>> = {};
  readonly keepalived: Partial<Record<Vm, Started>> = {};

  constructor(
    readonly topo: Topology,
    readonly launcher: Launcher,
    readonly opts: StackOptions,
  ) {
    this.mysqlUrl = `mysql://chat:chat-lab-pw@${topo.addr.db}:${MYSQL_PORT}/chat`;
    this.redisUrl = `redis://${topo.addr.db}:${REDIS_PORT}`;
  }

  root(vm: Vm): string {
    return this.opts.vmRoot(vm);
  }

  /** MariaDB and Redis in the db namespace, listening on the lab address only. */
  async startDatabases() {
    const dir = join(this.opts.dir, "db");
    const data = join(dir, "mariadb");
    mkdirSync(data, { recursive: true });
    const sock = join(dir, "mariadb.sock");
    await this.launcher.run(
      "db",
      ["mariadb-install-db", "--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal",
        "--skip-test-db", "--user=root"],
      120_000,
    );
    await this.launcher.spawn(
      "db",
      ["mariadbd", "--no-defaults", `--datadir=${data}`, `--socket=${sock}`, `--port=${MYSQL_PORT}`,
        `--bind-address=${this.topo.addr.db}`, `--pid-file=${join(dir, "mariadb.pid")}`, "--skip-name-resolve",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin", "--innodb-buffer-pool-size=64M",
        "--max-connections=1000", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2", "--user=root"],
      "mariadb",
    );
    await this.launcher.spawn(
      "db",
      ["redis-server", "--port", String(REDIS_PORT), "--bind", this.topo.addr.db, "--protected-mode", "no",
        "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"],
      "redis",
    );
    await waitUntil("MariaDB", () => tcpGreets(this.topo.addr.db, MYSQL_PORT), 60_000);
    await waitUntil("Redis", () => tcpGreets(this.topo.addr.db, REDIS_PORT, "PING\r\n"), 10_000);
    await this.launcher.run("db", ["mariadb", "--no-defaults", "-uroot", `--socket=${sock}`, "-e",
      "CREATE USER 'chat'@'%' IDENTIFIED BY 'chat-lab-pw'; GRANT ALL PRIVILEGES ON chat.* TO 'chat'@'%';" +
      "CREATE DATABASE chat CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"]);
  }

  /** Stages both VMs with deploy/install.sh --root, exactly as on real VMs. */
  install() {
    const nodes = VMS.map((vm) => `${this.topo.addr[vm]}:${CHAT_PORT}`).join(",");
    for (const vm of VMS) {
      const r = spawnSync(
        "bash",
        [join(REPO, "deploy/install.sh"), "--role", vm === "vm1" ? "master" : "backup", "--node", vm,
          "--iface", this.topo.iface, "--vip", `${this.topo.addr.vip}/24`, "--nodes", nodes,
          "--mysql", this.mysqlUrl, "--redis", this.redisUrl, "--binary", this.opts.binary,
          "--listen-port", String(VIP_PORT), "--chat-port", String(CHAT_PORT), "--admin-port", String(ADMIN_PORT),
          // Loopback: only the VM's own keepalived check reads /healthz.
          "--admin-host", "127.0.0.1",
          "--root", this.root(vm)],
        { encoding: "utf8", timeout: 30_000 },
      );
      if (r.status !== 0) throw new Error(`deploy/install.sh for ${vm} failed:\n${r.stdout}${r.stderr}`);
    }
  }

  /** `chat migrate`, once, from vm1. */
  async migrate() {
    await this.launcher.run("vm1", [join(this.root("vm1"), "usr/local/bin/chat"), "migrate", "--mysql", this.mysqlUrl], 60_000);
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
      // cwd: the VM's directory, far from the source tree and node_modules.
      launch: async (cmd) => {
        const started = await this.launcher.spawn(vm, cmd, `chat-${vm}`, { cwd: this.root(vm), env });
        this.chat[vm] = started;
        return { proc: started.proc, logFile: started.log };
      },
    });
  }

  nginxPidFile(vm: Vm) {
    return join(this.root(vm), "run/nginx.pid");
  }

  async startNginx(vm: Vm) {
    const root = this.root(vm);
    const conf = join(root, "etc/nginx/lab-nginx.conf");
    // The main config: the lab's paths, in the foreground so the PID we
    // record is the master's. The stream block is the one install.sh wrote.
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
        "",
      ].join("\n"),
    );
    const startLog = join(root, "var/log/nginx/error.log");
    this.nginx[vm] = await this.launcher.spawn(vm, ["nginx", "-p", `${root}/`, "-e", startLog, "-c", conf], `nginx-${vm}`);
    await waitUntil(`nginx on ${vm}`, async () => (await tcpHello(this.topo.addr[vm], VIP_PORT)) !== undefined, 10_000, { detail: () => tailOf(startLog) });
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
    const held = await Promise.all(VMS.map((vm) => addressesIn(this.topo.ns[vm], this.topo.iface)));
    return VMS.filter((_, i) => held[i]!.includes(this.topo.addr.vip));
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
