/**
 * Private MariaDB and Redis instances in a project data directory, on free
 * loopback ports. Used by test runs (test/support/services.ts: started when a
 * test file first needs them, stopped when the run ends) and by
 * `npm start` (started once, kept running, reused by the next start).
 *
 *   bun scripts/services.ts start <dir>   start (or reuse) and print the URLs
 *   bun scripts/services.ts stop <dir>    stop what <dir> records
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

export interface Services {
  mysqlUrl: string;
  redisUrl: string;
  dir: string;
}

export interface StartOptions {
  /** Keep the processes running after this process exits. Default false. */
  detached?: boolean;
  /**
   * Relax fsync (innodb_flush_log_at_trx_commit=2): a killed mariadbd loses
   * nothing, only an OS crash could. For test runs; never for benchmarks.
   */
  relaxedDurability?: boolean;
}

const MYSQL_USER = "chat";
const MYSQL_PASSWORD = "chat";

/** The path of an executable on PATH or in the sbin directories (Debian puts mariadbd there), or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/sbin", "/sbin"])) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A port the kernel just handed out on 127.0.0.1 (free unless someone races us). */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

/** The pid a pid file names, if that process is alive (and no zombie). */
export function pidAlive(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A zombie still answers kill(0): read its state.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) [ZX] /.test(stat)) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // no such process
  }
}

/** Polls `check` every 50 ms until true; after `ms` throws, with the tail of `log` if given. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms: number, log?: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  const tail = log && existsSync(log) ? "\n" + readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "";
  throw new Error(`${what} did not come up within ${ms} ms${tail}`);
}

/** Whether 127.0.0.1:port answers `probe` (or greets, with an empty probe) with what `expect` accepts, within 300 ms. */
export async function tcpAnswers(port: number, probe: string, expect: (s: string) => boolean): Promise<boolean> {
  try {
    let got = "";
    const sock = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_s, d) {
          got += d.toString();
        },
      },
    });
    if (probe) sock.write(probe);
    const until = Date.now() + 300;
    while (Date.now() < until && !expect(got)) await Bun.sleep(10);
    sock.end();
    return expect(got);
  } catch {
    return false; // not listening yet
  }
}

function launch(cmd: string, args: string[], detached: boolean) {
  const child = spawn(cmd, args, { stdio: "ignore", detached });
  if (detached) child.unref();
  return child;
}

async function startMariadb(dir: string, opts: StartOptions, fixedPort?: number): Promise<{ port: number }> {
  const bin = which("mariadbd");
  const installDb = which("mariadb-install-db");
  if (!bin || !installDb) throw new Error("mariadbd not found: run `sh scripts/bootstrap.sh` (installs mariadb-server)");
  const data = join(dir, "mariadb");
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  // A bootstrap can fail on a loaded machine; a second try on a clean directory has always done.
  for (let attempt = 1; !existsSync(join(data, "mysql")); attempt++) {
    mkdirSync(data, { recursive: true });
    const r = spawnSync(
      installDb,
      ["--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot],
      { encoding: "utf8" },
    );
    if (r.status === 0) break;
    rmSync(data, { recursive: true, force: true });
    if (attempt >= 2) throw new Error(`mariadb-install-db failed:\n${r.stdout}\n${r.stderr}`);
  }
  const port = fixedPort ?? (await freePort());
  const sock = join(dir, "mariadb.sock");
  const log = join(dir, "mariadb.log");
  launch(
    bin,
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${sock}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${join(dir, "mariadb.pid")}`,
      `--log-error=${log}`,
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_bin",
      "--innodb-buffer-pool-size=256M",
      "--max-connections=2000",
      "--skip-log-bin",
      ...(opts.relaxedDurability ? ["--innodb-flush-log-at-trx-commit=2"] : []),
      ...asRoot,
    ],
    !!opts.detached,
  );
  // The MySQL handshake starts with the server's greeting: no probe needed.
  await waitFor("mariadbd", () => tcpAnswers(port, "", (s) => s.length > 0), 30_000, log);
  const sql =
    `CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';` +
    `GRANT ALL PRIVILEGES ON *.* TO '${MYSQL_USER}'@'%';` +
    "CREATE DATABASE IF NOT EXISTS chat CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;";
  const r = spawnSync(which("mariadb") ?? "mariadb", ["--no-defaults", "-uroot", `--socket=${sock}`, "-e", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`creating the chat user failed: ${r.stderr}`);
  return { port };
}

async function startRedis(dir: string, opts: StartOptions, fixedPort?: number): Promise<{ port: number }> {
  const bin = which("redis-server");
  if (!bin) throw new Error("redis-server not found: run `sh scripts/bootstrap.sh` (installs redis-server)");
  const port = fixedPort ?? (await freePort());
  const log = join(dir, "redis.log");
  launch(
    bin,
    [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--pidfile", join(dir, "redis.pid"),
      "--logfile", log,
      "--save", "",
      "--appendonly", "no",
      "--daemonize", "no",
    ],
    !!opts.detached,
  );
  await waitFor("redis-server", () => tcpAnswers(port, "PING\r\n", (s) => s.includes("+PONG")), 10_000, log);
  return { port };
}

function urls(ports: { mysql: number; redis: number }) {
  return {
    mysqlUrl: `mysql://${MYSQL_USER}:${MYSQL_PASSWORD}@127.0.0.1:${ports.mysql}/chat`,
    redisUrl: `redis://127.0.0.1:${ports.redis}`,
  };
}

/** Starts MariaDB and Redis in `dir`, or reuses the ones already running there. */
export async function startServices(dir: string, opts: StartOptions = {}): Promise<Services> {
  dir = resolve(dir);
  mkdirSync(dir, { recursive: true });
  const portsFile = join(dir, "ports.json");
  if (existsSync(portsFile) && pidAlive(join(dir, "mariadb.pid")) && pidAlive(join(dir, "redis.pid"))) {
    const ports = JSON.parse(readFileSync(portsFile, "utf8"));
    if (
      (await tcpAnswers(ports.mysql, "", (s) => s.length > 0)) &&
      (await tcpAnswers(ports.redis, "PING\r\n", (s) => s.includes("+PONG")))
    )
      return { dir, ...urls(ports) };
  }
  await stopServices(dir); // half-started leftovers
  const [m, r] = await Promise.allSettled([startMariadb(dir, opts), startRedis(dir, opts)]);
  if (m.status === "rejected" || r.status === "rejected") {
    // Leave nothing behind: the one that did start would outlive this process.
    await stopServices(dir);
    throw m.status === "rejected" ? m.reason : (r as PromiseRejectedResult).reason;
  }
  const ports = { mysql: m.value.port, redis: r.value.port };
  writeFileSync(portsFile, JSON.stringify(ports) + "\n");
  return { dir, ...urls(ports) };
}

async function stopPid(pidFile: string) {
  const pid = pidAlive(pidFile);
  if (!pid) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && pidAlive(pidFile) === pid) await Bun.sleep(50);
  if (pidAlive(pidFile) === pid) process.kill(pid, "SIGKILL");
}

/** Stops the processes whose pid files `dir` holds (only those). */
export async function stopServices(dir: string, opts: { removeData?: boolean } = {}) {
  dir = resolve(dir);
  await Promise.all([stopPid(join(dir, "mariadb.pid")), stopPid(join(dir, "redis.pid"))]);
  if (existsSync(join(dir, "ports.json"))) rmSync(join(dir, "ports.json"));
  if (opts.removeData) rmSync(dir, { recursive: true, force: true });
}

/**
 * Stops one service of `dir` with SIGTERM (fault tests: an outage). Its port
 * stays recorded, so `resumeService` brings it back where clients expect it.
 */
export async function stopService(dir: string, service: "mariadb" | "redis") {
  await stopPid(join(resolve(dir), `${service}.pid`));
}

/** Starts a service stopped by `stopService` again, on the same port and data. */
export async function resumeService(dir: string, service: "mariadb" | "redis", opts: StartOptions = {}) {
  dir = resolve(dir);
  const ports = JSON.parse(readFileSync(join(dir, "ports.json"), "utf8"));
  if (service === "mariadb") await startMariadb(dir, opts, ports.mysql);
  else await startRedis(dir, opts, ports.redis);
}

if (import.meta.main) {
  const [cmd, dir = ".data/dev"] = process.argv.slice(2);
  if (cmd === "start") {
    const s = await startServices(dir, { detached: true });
    console.log(`CHAT_MYSQL_URL=${s.mysqlUrl}\nCHAT_REDIS_URL=${s.redisUrl}`);
  } else if (cmd === "stop") {
    await stopServices(dir);
    console.log(`stopped MariaDB and Redis of ${resolve(dir)}`);
  } else {
    console.error("usage: bun scripts/services.ts start|stop [dir]");
    process.exit(2);
  }
}
