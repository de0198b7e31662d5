/**
 * The lab's supervisor, in the host's namespace: checks the host, builds the
 * executable, creates the namespaces, runs the driver inside the client
 * namespace, and then, whatever happened (a failed check, a crashed driver,
 * SIGINT/SIGTERM, the overall time limit), stops every process the run
 * recorded and deletes the namespaces and the data directory.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { LabState } from "./driver.ts";
import { createTopology, destroyTopology, plan, preflight, procNetns } from "./netns.ts";
import { PidRegistry, alive, stopRecorded, type Recorded } from "./procs.ts";
import { VMS, type Vm } from "./stack.ts";

const REPO = resolve(import.meta.dir, "../..");
/** The whole run, setup and teardown included, must end within this (CHAT_LAB_TIMEOUT_MS). */
const RUN_LIMIT_MS = Number(process.env.CHAT_LAB_TIMEOUT_MS ?? 240_000);

const NEEDED = [
  ["nginx", "nginx-light"],
  ["keepalived", "keepalived"],
  ["mariadbd", "mariadb-server"],
  ["mariadb-install-db", "mariadb-server"],
  ["mariadb", "mariadb-client"],
  ["redis-server", "redis-server"],
  ["redis-sentinel", "redis-sentinel"],
  ["rsync", "rsync"],
  ["ip", "iproute2"],
] as const;

function which(bin: string): boolean {
  return ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"].some((d) => existsSync(join(d, bin)));
}

/** True when no user but root can change `path` or any directory above it (keepalived's script security). */
function rootOnly(path: string): boolean {
  for (let p = resolve(path); ; p = dirname(p)) {
    const s = statSync(p);
    const sticky = (s.mode & 0o1000) !== 0;
    if (s.uid !== 0 || (s.mode & 0o020 && s.gid !== 0) || (s.mode & 0o002 && !(s.isDirectory() && sticky))) return false;
    if (p === "/") return true;
  }
}

function newestMtime(path: string, depth = 0): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  if (depth > 8) return 0;
  return Math.max(0, ...readdirSync(path).map((n) => newestMtime(join(path, n), depth + 1)));
}

/** Builds dist/chat unless it is newer than every source file; returns its path. */
function build(): string {
  const out = join(REPO, "dist/chat");
  if (!existsSync(join(REPO, "src/main.ts"))) throw new Error("src/main.ts does not exist: there is no server to build yet");
  const sources = Math.max(...["src", "pool", "sql", "package.json", "package-lock.json", "tsconfig.json"].map((p) => newestMtime(join(REPO, p))));
  if (existsSync(out) && statSync(out).mtimeMs > sources) {
    console.log(`lab: dist/chat is fresh (${new Date(statSync(out).mtimeMs).toISOString()})`);
    return out;
  }
  // The project's build script when there is one (it embeds the commit), run
  // directly: `npm run build` would first run the bootstrap (npm ci) inside a test run.
  const argv = existsSync(join(REPO, "scripts/build.ts"))
    ? ["scripts/build.ts"]
    : ["build", "--compile", "src/main.ts", "--outfile", "dist/chat"];
  console.log(`lab: building dist/chat (bun ${argv.join(" ")})`);
  const t = Date.now();
  const r = spawnSync(process.execPath, argv, { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0 || !existsSync(out)) throw new Error(`building dist/chat failed:\n${r.stdout}${r.stderr}`);
  console.log(`lab: built dist/chat in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return out;
}

export async function supervise(): Promise<number> {
  const runId = process.pid;
  let topo;
  try {
    topo = plan(runId);
  } catch (e) {
    console.error(`lab: ${(e as Error).message}`);
    return 2;
  }
  const problems = preflight(topo);
  for (const [bin, pkg] of NEEDED) if (!which(bin)) problems.push(`${bin} is missing (Debian package ${pkg})`);
  if (!existsSync("/usr/lib/nginx/modules/ngx_stream_module.so")) problems.push("nginx's stream module is missing (libnginx-mod-stream)");
  if (!existsSync("/usr/lib/galera/libgalera_smm.so")) problems.push("the Galera provider is missing (Debian package galera-4)");
  if (problems.length) {
    console.error(`lab: cannot run:\n  - ${problems.join("\n  - ")}\n(on Debian as root: sh scripts/bootstrap.sh test)`);
    return 2;
  }

  const dir = join(REPO, ".data", `lab-${runId}`);
  mkdirSync(join(dir, "logs"), { recursive: true });
  chmodSync(dir, 0o755);
  // keepalived runs the check script only from a path no other user can
  // write; a checkout owned by a CI user is not, /run is.
  const stageBase = rootOnly(dir) ? dir : join("/run", `chat-lab-${runId}`);
  mkdirSync(stageBase, { recursive: true, mode: 0o755 });
  const vmRoots = Object.fromEntries(VMS.map((vm) => [vm, join(stageBase, vm)])) as Record<Vm, string>;
  const reg = new PidRegistry(join(dir, "pids"));
  const created: string[] = [];
  let code = 1;
  let cleaning: Promise<void> | undefined;

  const cleanup = () => (cleaning ??= stopAll());
  const stopAll = async () => {
    const recorded = reg.list();
    reg.recordDescendants(recorded); // workers and children spawned since
    const all = reg.list();
    // Front to back, so each tier still has what its graceful stop needs
    // (a chat node ends its sessions in MySQL and Redis on SIGTERM).
    const stubborn: string[] = [];
    const tiers = [/^driver/, /^keepalived/, /^nginx/, /^chat/, /./];
    const done = new Set<Recorded>();
    for (const tier of tiers) {
      const batch = all.filter((p) => !done.has(p) && tier.test(p.label));
      for (const p of batch) done.add(p);
      stubborn.push(...(await stopRecorded(batch)));
    }
    if (stubborn.length) console.log(`lab: needed SIGKILL: ${stubborn.join(", ")}`);
    const survivors = all.filter(alive);
    if (survivors.length) {
      console.error(`lab: still running after SIGKILL: ${survivors.map((p) => `${p.label} (${p.pid})`).join(", ")}`);
      code = code || 1;
    }
    const left = destroyTopology(created);
    if (left.length) {
      console.error(`lab: could not delete namespaces: ${left.join("; ")}`);
      code = code || 1;
    }
    if (process.env.CHAT_LAB_KEEP === "1") console.log(`lab: kept ${dir} (CHAT_LAB_KEEP=1)`);
    else {
      rmSync(dir, { recursive: true, force: true });
      if (stageBase !== dir) rmSync(stageBase, { recursive: true, force: true });
    }
    console.log(`lab: stopped ${all.length - survivors.length} of the ${all.length} processes it started, deleted ${created.length - left.length} namespaces`);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`lab: ${sig}: cleaning up`);
    void cleanup().then(() => process.exit(128 + (sig === "SIGINT" ? 2 : 15)));
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);

  try {
    const binary = join(dir, "chat");
    copyFileSync(build(), binary); // a rebuild of dist/chat during the run does not touch ours
    createTopology(topo, created);
    console.log(`lab: namespaces ${Object.values(topo.ns).join(" ")} on ${topo.net}.0/24, VIP ${topo.addr.vip}`);
    const state: LabState = { topo, dir, vmRoots, binary, hostNetns: procNetns("self")!, pidFile: reg.file };
    const stateFile = join(dir, "state.json");
    writeFileSync(stateFile, JSON.stringify(state));
    const driver = Bun.spawn(
      ["ip", "netns", "exec", topo.ns.cli, process.execPath, join(import.meta.dir, "lab.ts"), "--driver", stateFile],
      { stdio: ["ignore", "inherit", "inherit"], cwd: REPO },
    );
    reg.record(driver.pid, "driver");
    const timer = setTimeout(() => {
      console.error(`lab: the run passed ${RUN_LIMIT_MS / 1000} s: stopping it`);
      driver.kill("SIGTERM");
    }, RUN_LIMIT_MS - 15_000);
    code = await driver.exited;
    clearTimeout(timer);
  } catch (e) {
    console.error(`lab: ${e instanceof Error ? e.message : e}`);
    code = 2;
  } finally {
    await cleanup();
  }
  return code;
}
