/**
 * deploy/install.sh as the guide runs it: a first install, an upgrade, a
 * second run with the same or changed options, staged with --root into a
 * temporary directory. Service control cannot run here (it would act on this
 * machine's systemd), so CHAT_INSTALL_SYSTEMCTL hands it to a recording stub:
 * the one fake, standing in for systemd. Stubs named keepalived and nginx
 * on the PATH catch any direct call. The chat node whose /healthz the script
 * waits for is a real server; the "executables" installed are small scripts
 * that print a version, since the script only copies and runs `--version`.
 *
 * Also keepalived's check script with a real process named nginx: the
 * maintenance flag an upgrade raises keeps the VIP where it is.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/services.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";

const DEPLOY = resolve(import.meta.dir, "../../deploy");
const tmp = mkdtempSync(`${tmpdir()}/chat-install-`);
const stubs = join(tmp, "bin");
let node: NodeProcess;
let runs = 0;

/** Every call the stubs saw: systemctl's arguments, and any direct keepalived or nginx call. */
const STUB = `#!/bin/sh
log=$STUB_DIR/calls
case "$(basename "$0")" in
  systemctl) ;;
  *) echo "direct: $(basename "$0") $*" >>"$log"; exit 0 ;;
esac
[ "$1" = is-active ] && { [ -e "$STUB_DIR/active-$3" ]; exit $?; }
echo "$*" >>"$log"
case "$1" in
  start | restart)
    touch "$STUB_DIR/active-$2"
    if [ "$2" = chat ]; then
      if [ -e "$STUB_MAINTENANCE" ]; then echo "  maintenance flag up" >>"$log"; else echo "  maintenance flag down" >>"$log"; fi
    fi ;;
esac
exit 0
`;

interface Staged {
  root: string;
  stub: string;
  /** systemctl calls and direct calls since the last `forget()`. */
  calls(): string[];
  forget(): void;
}

function stage(): Staged {
  const n = ++runs;
  const root = join(tmp, `vm${n}`);
  const stub = join(tmp, `stub${n}`);
  mkdirSync(stub, { recursive: true });
  const file = join(stub, "calls");
  return {
    root,
    stub,
    calls: () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []),
    forget: () => rmSync(file, { force: true }),
  };
}

function executable(version: string): string {
  const path = join(tmp, `chat-${version}`);
  writeFileSync(path, `#!/bin/sh\necho "chat ${version} (test build)"\n`);
  chmodSync(path, 0o755);
  return path;
}

function run(vm: Staged, args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["bash", join(DEPLOY, "install.sh"), ...args, "--root", vm.root], {
    env: {
      ...process.env,
      PATH: `${stubs}:${process.env.PATH}`,
      CHAT_INSTALL_SYSTEMCTL: join(stubs, "systemctl"),
      STUB_DIR: vm.stub,
      STUB_MAINTENANCE: join(vm.root, "run/chat-maintenance"),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const base = (adminPort: number) => [
  "--role", "master", "--node", "vm1", "--iface", "lab0", "--vip", "10.0.0.100/24",
  "--nodes", "10.0.0.11:6000,10.0.0.12:6000", "--mysql", "mysql://chat:pw@10.0.0.20:3306/chat",
  "--redis", "redis://:pw@10.0.0.20:6379", "--admin-port", String(adminPort), "--wait", "20",
  // nginx's fail_timeout wait after a restart: its own test below.
  "--settle", "0",
];

/** Every file under `dir`: its bytes and modification time. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, `${statSync(p).mtimeMs} ${Bun.hash(readFileSync(p))}`);
    }
  };
  walk(dir);
  return out;
}

const changing = (calls: string[]) => calls.filter((c) => !c.startsWith("  "));

beforeAll(async () => {
  mkdirSync(stubs, { recursive: true });
  for (const name of ["systemctl", "keepalived", "nginx"]) {
    writeFileSync(join(stubs, name), STUB);
    chmodSync(join(stubs, name), 0o755);
  }
  node = await spawnNode({ node: "inst1", mysqlUrl: await freshDatabase() });
});

afterAll(async () => {
  await node?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

describe("deploy/install.sh", () => {
  it("installs every file, then starts the chat node, nginx and keepalived, in that order", () => {
    const vm = stage();
    const r = run(vm, [...base(node.adminPort), "--binary", executable("1.0.0")]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const f of ["usr/local/bin/chat", "etc/chat/chat.env", "etc/systemd/system/chat.service", "etc/nginx/chat-stream.conf", "etc/keepalived/keepalived.conf"])
      expect(existsSync(join(vm.root, f))).toBe(true);
    expect(statSync(join(vm.root, "etc/keepalived/check-chat.sh")).mode & 0o777).toBe(0o755);
    expect(statSync(join(vm.root, "etc/chat/chat.env")).mode & 0o777).toBe(0o640);
    expect(vm.calls()).toEqual(["daemon-reload", "enable chat nginx keepalived", "start chat", "  maintenance flag up", "start nginx", "start keepalived"]);
    expect(r.out).toContain(`chat: node up: 127.0.0.1:${node.adminPort}/healthz answers 200`);
    expect(existsSync(join(vm.root, "run/chat-maintenance"))).toBe(false);
    // keepalived's check knows the flag the upgrade raises.
    expect(readFileSync(join(vm.root, "etc/keepalived/keepalived.conf"), "utf8")).toContain(`strict ${vm.root}/run/chat-maintenance"`);
  });

  it("upgrades by replacing only the executable and restarting only the chat node, with the maintenance flag up", () => {
    const vm = stage();
    const old = executable("1.0.0");
    expect(run(vm, [...base(node.adminPort), "--binary", old]).code).toBe(0);
    const before = snapshot(vm.root);
    vm.forget();

    const r = run(vm, ["--upgrade", "--binary", executable("1.1.0"), "--wait", "20", "--settle", "0"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("chat 1.0.0 (test build) -> chat 1.1.0 (test build)");
    expect(r.out).toContain("nginx and keepalived untouched");
    expect(vm.calls()).toEqual(["restart chat", "  maintenance flag up"]);
    expect(existsSync(join(vm.root, "run/chat-maintenance"))).toBe(false);
    const bin = join(vm.root, "usr/local/bin/chat");
    expect(readFileSync(bin, "utf8")).toContain("1.1.0");
    expect(readFileSync(`${bin}.previous`, "utf8")).toContain("1.0.0");
    // Every config file as it was, to the byte and the modification time.
    const after = snapshot(vm.root);
    for (const [path, sig] of before) if (path !== bin) expect(`${path} ${after.get(path)}`).toBe(`${path} ${sig}`);
  });

  it("restarts nothing when run again with the same options and executable", () => {
    const vm = stage();
    const args = [...base(node.adminPort), "--binary", executable("1.0.0")];
    expect(run(vm, args).code).toBe(0);
    vm.forget();
    const r = run(vm, args);
    expect(r.code).toBe(0);
    expect(vm.calls()).toEqual(["enable chat nginx keepalived"]);
  });

  it("applies changed settings by restarting the node and reloading nginx, and leaves a running keepalived alone", () => {
    const vm = stage();
    const bin = executable("1.0.0");
    expect(run(vm, [...base(node.adminPort), "--binary", bin]).code).toBe(0);
    vm.forget();
    const r = run(vm, [...base(node.adminPort), "--binary", bin, "--chat-port", "6100", "--listen-port", "8100", "--check-mode", "alive"]);
    expect(r.code).toBe(0);
    expect(changing(vm.calls())).toEqual(["enable chat nginx keepalived", "restart chat", "reload nginx"]);
    expect(vm.calls()).toContain("  maintenance flag up");
    expect(r.out).toContain("keepalived's config changed; it is running and was left alone");
    expect(r.out).toContain("systemctl reload keepalived");
    expect(readFileSync(join(vm.root, "etc/keepalived/keepalived.conf.bak"), "utf8")).toContain(" strict ");
    expect(readFileSync(join(vm.root, "etc/keepalived/keepalived.conf"), "utf8")).toContain(" alive ");
  });

  it("waits out nginx's fail_timeout after the node is up, so that the next VM's restart finds it in use again", () => {
    const vm = stage();
    expect(run(vm, [...base(node.adminPort), "--binary", executable("1.0.0")]).code).toBe(0);
    // The staged balancer config is where the wait comes from.
    const conf = join(vm.root, "etc/nginx/chat-stream.conf");
    writeFileSync(conf, readFileSync(conf, "utf8").replaceAll("fail_timeout=10s", "fail_timeout=1s"));
    const t0 = Date.now();
    const r = run(vm, ["--upgrade", "--binary", executable("1.1.0")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("waiting 1 s (nginx's fail_timeout) until every nginx sends clients to this node again");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it("fails an upgrade whose node does not come up, names the rollback and takes the maintenance flag down", async () => {
    const vm = stage();
    const silent = await freePort(); // nothing answers there
    expect(run(vm, [...base(silent), "--binary", executable("1.0.0"), "--no-start"]).code).toBe(0);
    const r = run(vm, ["--upgrade", "--binary", executable("2.0.0"), "--wait", "1"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`did not answer /healthz on 127.0.0.1:${silent} within 1 s`);
    expect(r.err).toContain(`--upgrade --binary ${vm.root}/usr/local/bin/chat.previous`);
    expect(existsSync(join(vm.root, "run/chat-maintenance"))).toBe(false);
  });

  it("refuses an upgrade where nothing is installed, and settings an upgrade would not apply", () => {
    const empty = run(stage(), ["--upgrade", "--binary", executable("1.0.0")]);
    expect(empty.code).toBe(1);
    expect(empty.err).toContain("run the full install first");
    const vm = stage();
    expect(run(vm, [...base(node.adminPort), "--binary", executable("1.0.0"), "--no-start"]).code).toBe(0);
    const settings = run(vm, ["--upgrade", "--node", "vm9"]);
    expect(settings.code).toBe(1);
    expect(settings.err).toContain("run without --upgrade to change settings");
  });

  it("installs the TLS pair where chat.env points, and an upgrade replaces it", () => {
    const vm = stage();
    const certs = join(tmp, "certs");
    const made = Bun.spawnSync(["bash", join(DEPLOY, "make-certs.sh"), "--dir", certs, "10.0.0.100", "10.0.0.11", "10.0.0.12"], { stderr: "pipe" });
    expect(made.exitCode).toBe(0);
    const tls = ["--tls-cert", join(certs, "chat.pem"), "--tls-key", join(certs, "chat.key")];
    expect(run(vm, [...base(node.adminPort), "--binary", executable("1.0.0"), ...tls]).code).toBe(0);
    const env = readFileSync(join(vm.root, "etc/chat/chat.env"), "utf8");
    expect(env).toContain(`CHAT_TLS_CERT=${vm.root}/etc/chat/tls/chat.pem\n`);
    expect(env).toContain(`CHAT_TLS_KEY=${vm.root}/etc/chat/tls/chat.key\n`);
    expect(statSync(join(vm.root, "etc/chat/tls/chat.key")).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(vm.root, "etc/chat/tls/chat.pem"), "utf8")).toBe(readFileSync(join(certs, "chat.pem"), "utf8"));

    // A renewed certificate goes out like an upgrade: one restart of the node.
    expect(Bun.spawnSync(["bash", join(DEPLOY, "make-certs.sh"), "--dir", certs, "10.0.0.100", "10.0.0.11", "10.0.0.12", "chat.example.com"]).exitCode).toBe(0);
    vm.forget();
    const r = run(vm, ["--upgrade", "--binary", executable("1.0.0"), "--settle", "0", ...tls]);
    expect(r.code).toBe(0);
    expect(vm.calls()).toEqual(["restart chat", "  maintenance flag up"]);
    expect(readFileSync(join(vm.root, "etc/chat/tls/chat.pem"), "utf8")).toBe(readFileSync(join(certs, "chat.pem"), "utf8"));
  });

  it("keeps serving the installed TLS pair when run again without --tls-cert, until --no-tls", () => {
    const vm = stage();
    const certs = join(tmp, "certs-keep");
    expect(Bun.spawnSync(["bash", join(DEPLOY, "make-certs.sh"), "--dir", certs, "10.0.0.100"]).exitCode).toBe(0);
    const args = [...base(node.adminPort), "--binary", executable("1.0.0"), "--no-start"];
    expect(run(vm, [...args, "--tls-cert", join(certs, "chat.pem"), "--tls-key", join(certs, "chat.key")]).code).toBe(0);
    const envFile = join(vm.root, "etc/chat/chat.env");
    const again = run(vm, args);
    expect(again.code).toBe(0);
    expect(again.out).toContain("keeping the installed TLS pair");
    expect(readFileSync(envFile, "utf8")).toContain(`CHAT_TLS_CERT=${vm.root}/etc/chat/tls/chat.pem\n`);
    const off = run(vm, [...args, "--no-tls"]);
    expect(off.code).toBe(0);
    expect(readFileSync(envFile, "utf8")).toContain("CHAT_TLS_CERT=\n");
  });

  it("writes no TLS settings without --tls-cert, and takes neither half of the pair alone", () => {
    const vm = stage();
    expect(run(vm, [...base(node.adminPort), "--binary", executable("1.0.0"), "--no-start"]).code).toBe(0);
    const env = readFileSync(join(vm.root, "etc/chat/chat.env"), "utf8");
    expect(env).toContain("CHAT_TLS_CERT=\n");
    expect(env).toContain("CHAT_TLS_KEY=\n");
    const half = run(stage(), [...base(node.adminPort), "--binary", executable("1.0.0"), "--tls-cert", join(tmp, "certs/chat.pem")]);
    expect(half.code).toBe(1);
    expect(half.err).toContain("--tls-cert and --tls-key go together");
  });

  it("points the node at Redis Sentinel with the password in a file of its own, and refuses Redis named twice", () => {
    const vm = stage();
    const pw = join(tmp, "redis-pw");
    writeFileSync(pw, "s3cret\n");
    const sentinels = base(node.adminPort)
      .join("\u0000")
      .replace("--redis\u0000redis://:pw@10.0.0.20:6379", `--redis-sentinels\u000010.0.0.11:26379,10.0.0.12:26379\u0000--redis-password-file\u0000${pw}`)
      .split("\u0000");
    expect(run(vm, [...sentinels, "--binary", executable("1.0.0"), "--no-start"]).code).toBe(0);
    const env = readFileSync(join(vm.root, "etc/chat/chat.env"), "utf8");
    expect(env).toContain("CHAT_REDIS_URL=\n");
    expect(env).toContain("CHAT_REDIS_SENTINELS=10.0.0.11:26379,10.0.0.12:26379\n");
    expect(env).toContain("CHAT_REDIS_MASTER=chat\n");
    expect(env).toContain(`CHAT_REDIS_PASSWORD_FILE=${vm.root}/etc/chat/redis-password\n`);
    expect(readFileSync(join(vm.root, "etc/chat/redis-password"), "utf8")).toBe("s3cret\n");
    expect((statSync(join(vm.root, "etc/chat/redis-password")).mode & 0o777).toString(8)).toBe("640");
    const twice = run(stage(), [...base(node.adminPort), "--redis-sentinels", "10.0.0.11:26379", "--binary", executable("1.0.0")]);
    expect(twice.code).toBe(1);
    expect(twice.err).toContain("--redis and --redis-sentinels both name Redis");
    const bad = run(stage(), [...sentinels.filter((a) => a !== pw && a !== "--redis-password-file"), "--redis-sentinels", "10.0.0.11", "--binary", executable("1.0.0")]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--redis-sentinels wants HOST:PORT");
  });
});

describe("keepalived's check script during an upgrade", () => {
  let nginx: Subprocess;
  const dir = join(tmp, "check");
  const flag = join(dir, "chat-maintenance");
  let admin: number;

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    // A real process whose name is nginx: the check reads /proc/PID/stat.
    const fake = join(dir, "nginx");
    writeFileSync(fake, readFileSync("/bin/sleep"));
    chmodSync(fake, 0o755);
    nginx = Bun.spawn([fake, "120"], { stdout: "ignore", stderr: "ignore" });
    writeFileSync(join(dir, "nginx.pid"), `${nginx.pid}\n`);
    admin = await freePort(); // the chat node is down: nothing listens
  });

  afterAll(() => {
    nginx?.kill("SIGKILL");
  });

  const check = (port: number) =>
    Bun.spawnSync(["bash", join(DEPLOY, "keepalived/check-chat.sh"), join(dir, "nginx.pid"), `127.0.0.1:${port}`, "strict", flag], { stderr: "pipe" });

  it("fails over when the chat node is down, but not while an upgrade's flag is up, and not for a flag older than 10 minutes", () => {
    rmSync(flag, { force: true });
    const down = check(admin);
    expect(down.exitCode).toBe(1);
    expect(down.stderr.toString()).toContain("does not answer");
    writeFileSync(flag, "");
    expect(check(admin).exitCode).toBe(0);
    const stale = (Date.now() - 11 * 60_000) / 1000;
    utimesSync(flag, stale, stale);
    expect(check(admin).exitCode).toBe(1);
  });

  it("passes for a live nginx and a healthy chat node", () => {
    rmSync(flag, { force: true });
    expect(check(node.adminPort).exitCode).toBe(0);
  });
});
