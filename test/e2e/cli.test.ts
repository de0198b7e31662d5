/** The `chat` command line: help, version, bad flags, environment, config files, migrate. */
import { afterAll, describe, expect, it } from "bun:test";
import { FEATURES } from "../../src/protocol/features.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { POOL_DEFAULTS } from "../../pool/index.ts";
import { freePort } from "../../scripts/services.ts";
import { DEFAULTS } from "../../src/server/server.ts";
import mysql from "mysql2/promise";
import { freshDatabase, mysqlUrl } from "../support/db.ts";
import { CHEAP_HASH, type NodeProcess, spawnNode } from "../support/node.ts";
import { Wire } from "../support/wire.ts";

const MAIN = `${import.meta.dir}/../../src/main.ts`;

/** The environment without any CHAT_* variable, plus `env`. */
function only(env: Record<string, string>): Record<string, string | undefined> {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CHAT_"))), ...env };
}

function chat(...args: string[]) {
  return chatWith({}, ...args);
}

function chatWith(env: Record<string, string>, ...args: string[]) {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { env: only(env) });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

interface ChatProcess {
  proc: ReturnType<typeof Bun.spawn>;
  log(): string;
  until(pattern: RegExp, ms?: number): Promise<string>;
  stop(): Promise<void>;
}

const running: ChatProcess[] = [];
afterAll(async () => {
  for (const c of running.splice(0)) await c.stop();
});

/**
 * `chat server` as a child process with exactly `env` for its CHAT_* settings
 * (none inherited). `until` resolves with the log once a line matches, and
 * rejects with the log if the process exits or stays silent first.
 */
function spawnChat(args: string[], env: Record<string, string> = {}): ChatProcess {
  const proc = Bun.spawn([process.execPath, MAIN, "server", ...args], { stdout: "ignore", stderr: "pipe", env: only(env) });
  let log = "";
  let wake = () => {};
  // Ends when the process has exited and its last words are read.
  const drained = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      log += dec.decode(chunk, { stream: true });
      wake();
    }
    await proc.exited;
  })();
  const c: ChatProcess = {
    proc,
    log: () => log,
    async until(pattern: RegExp, ms = 20_000): Promise<string> {
      const deadline = Date.now() + ms;
      let done = false;
      void drained.then(() => (done = true));
      while (!pattern.test(log)) {
        if (done) throw new Error(`chat server exited with ${proc.exitCode} before ${pattern}:\n${log}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms} ms:\n${log}`);
        await Promise.race([new Promise<void>((r) => (wake = r)), drained, Bun.sleep(deadline - Date.now())]);
      }
      return log;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill();
      await proc.exited;
    },
  };
  running.push(c);
  return c;
}

describe("chat", () => {
  it("prints its commands with --help and its version with --version", () => {
    const help = chat("--help");
    expect(help.code).toBe(0);
    for (const cmd of ["server", "client", "migrate", "admin"]) expect(help.out).toContain(cmd);
    const version = chat("--version");
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^chat \d+\.\d+\.\d+ \(\w+\)\n$/);
  });

  it("lists every server option with its environment variable", () => {
    const r = chat("server", "--help");
    expect(r.code).toBe(0);
    for (const flag of ["--port", "--mysql", "--redis", "--admin-port", "--node", "--pool-max-size", "--tls-cert", "--rate-limit"]) expect(r.out).toContain(flag);
    expect(r.out).toContain("CHAT_MYSQL_URL");
  });

  it("shows in --help the defaults the server runs with, as its DEFAULTS objects hold them", () => {
    const r = chat("server", "--help");
    expect(r.code).toBe(0);
    const line = (flag: string) => r.out.split("\n").find((l) => l.startsWith(`  --${flag} `)) ?? "";
    expect(line("port")).toContain(`(default ${DEFAULTS.port}) [CHAT_PORT]`);
    expect(line("host")).toContain(`(default ${DEFAULTS.host}) [CHAT_HOST]`);
    expect(line("rate-limit")).toContain(`(default ${DEFAULTS.rateLimit})`);
    expect(line("rate-burst")).toContain(`(default ${DEFAULTS.rateBurst})`);
    expect(line("max-frame")).toContain(`(default ${DEFAULTS.maxFrame})`);
    expect(line("max-output")).toContain(`(default ${DEFAULTS.maxOutput})`);
    expect(line("hash-memory")).toContain(`(default ${DEFAULTS.hash.memoryCost})`);
    expect(line("hash-time")).toContain(`(default ${DEFAULTS.hash.timeCost})`);
    expect(line("idle-timeout")).toContain(`(default ${DEFAULTS.idleTimeoutMs / 1000}s)`);
    expect(line("order-window")).toContain(`(default ${DEFAULTS.orderWindowMs}ms)`);
    expect(line("pool-max-size")).toContain(`(default ${POOL_DEFAULTS.maxSize})`);
    expect(line("pool-init-size")).toContain(`(default ${POOL_DEFAULTS.initSize})`);
  });

  it("answers a bad value with one line naming the option and a pointer to --help, not the whole usage", () => {
    const r = chat("server", "--mysql", "mysql://x@127.0.0.1/db", "--rate-burst", "0");
    expect(r.code).toBe(2);
    expect(r.err).toBe('chat server: --rate-burst must be a whole number 1 or more, got "0"\nsee: chat server --help\n');
  });

  it("answers a bad flag or command with a one-line error, the usage and exit code 2", () => {
    const flag = chat("server", "--bogus");
    expect(flag.code).toBe(2);
    expect(flag.err.split("\n")[0]).toMatch(/^chat server: .*bogus/);
    expect(flag.err).toContain("usage: chat server");
    const num = chat("server", "--mysql", "mysql://x@127.0.0.1/db", "--port", "seventy");
    expect(num.code).toBe(2);
    expect(num.err.split("\n")[0]).toContain("--port must be a whole number");
    const cmd = chat("serve");
    expect(cmd.code).toBe(2);
    expect(cmd.err).toContain('unknown command "serve"');
  });

  it("migrates a database and says so, then says it is up to date", async () => {
    const url = await freshDatabase({ migrated: false });
    const first = chat("migrate", "--mysql", url);
    expect(first.code).toBe(0);
    expect(first.out).toContain("applied 001_init");
    expect(first.out).not.toContain(":chat@");
    const again = chat("migrate", "--mysql", url);
    expect(again.out).toContain("up to date");
  });

  it("runs a server configured by CHAT_* environment variables alone", async () => {
    const port = await freePort();
    const admin = await freePort();
    const c = spawnChat([], {
      CHAT_HOST: "127.0.0.1",
      CHAT_PORT: String(port),
      CHAT_ADMIN_PORT: String(admin),
      CHAT_NODE: "env1",
      CHAT_MYSQL_URL: await freshDatabase(),
      CHAT_HASH_MEMORY: String(CHEAP_HASH.memoryCost),
      CHAT_HASH_TIME: String(CHEAP_HASH.timeCost),
      CHAT_POOL_MAX_SIZE: "3",
    });
    await c.until(/INFO ready /);
    const w = await Wire.connect(port);
    expect(w.frames[0]).toEqual({ type: "hello", version: 1, node: "env1", features: [...FEATURES, "ws"] });
    await w.ok({ type: "register", name: "env_user", password: "password-1" });
    w.close();
    expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
    await c.stop();
  });

  it("binds the admin port to 127.0.0.1 by default, whatever address the chat port listens on", async () => {
    // 127.0.0.2 is loopback too, but not the admin port's address.
    const port = await freePort();
    const admin = await freePort();
    const url = await freshDatabase();
    const c = spawnChat(["--host", "127.0.0.2", "--port", String(port), "--admin-port", String(admin), "--node", "adm1", "--mysql", url]);
    const log = await c.until(/INFO ready /);
    expect(log).toContain(`admin_listen host=127.0.0.1 port=${admin}`);
    const w = await Wire.connect(port, { host: "127.0.0.2" });
    expect(w.frames[0]).toMatchObject({ type: "hello", node: "adm1" });
    w.close();
    expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
    expect(await fetch(`http://127.0.0.2:${admin}/healthz`).then(() => "answered", (e) => e.code)).toBe("ECONNREFUSED");
    await c.stop();
    const open = spawnChat(["--host", "127.0.0.1", "--port", "0", "--node", "adm2", "--mysql", url], { CHAT_ADMIN_HOST: "127.0.0.2", CHAT_ADMIN_PORT: String(admin) });
    expect(await open.until(/INFO admin_listen /)).toContain(`admin_listen host=127.0.0.2 port=${admin}`);
    await open.stop();
  });

  it("runs a server from a config file with the references' database keys", async () => {
    const url = new URL(await freshDatabase({ migrated: false }));
    const dir = mkdtempSync(`${tmpdir()}/chat-config-`);
    const port = await freePort();
    const admin = await freePort();
    writeFileSync(
      `${dir}/chat.json`,
      JSON.stringify({
        host: "127.0.0.1",
        port,
        "admin-port": admin,
        node: "cfg1",
        "hash-memory": 64,
        "hash-time": 1,
        mysql: {
          ip: url.hostname,
          port: Number(url.port),
          username: url.username,
          password: url.password,
          dbname: url.pathname.slice(1),
          initSize: 1,
          maxSize: 3,
          maxIdleTime: 60,
          connectionTimeout: 2000,
        },
      }),
    );
    let node: NodeProcess | undefined;
    try {
      // Everything from the file: the command line names only the file.
      node = await spawnNode({ node: "cfg1", port, adminPort: admin, argv: [process.execPath, MAIN, "server", "--config", `${dir}/chat.json`] });
      const w = await node.connect();
      expect(w.frames[0]).toEqual({ type: "hello", version: 1, node: "cfg1", features: [...FEATURES, "ws"] });
      await w.ok({ type: "register", name: "cfg_user", password: "password-1" });
      const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      expect(metrics).toMatch(/chat_pool_size [123]\n/);
      w.close();
    } finally {
      await node?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("the database password", () => {
    const dir = mkdtempSync(`${tmpdir()}/chat-password-`);
    let files = 0;
    const passwordFile = (text: string) => {
      const path = `${dir}/password-${++files}`;
      writeFileSync(path, text);
      return path;
    };
    /** The test MariaDB's own user and password, and a URL with a wrong password in their place. */
    const chatUser = () => {
      const u = new URL(mysqlUrl());
      return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
    };
    const withUrlPassword = (url: string, password: string) => {
      const u = new URL(url);
      u.password = encodeURIComponent(password);
      return u.toString();
    };
    const users: string[] = [];
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      const conn = await mysql.createConnection({ uri: mysqlUrl() });
      for (const u of users) await conn.query("DROP USER IF EXISTS ?@'%'", [u]);
      await conn.end();
    });

    /** Every character that ends the user:password part of a URL, or changes its meaning. */
    const AWKWARD = "p/a#s?s@%w:rd 1";

    it("explains a mysql:// URL whose password holds an unencoded / or #: which option, why, and to percent-encode it", () => {
      const slash = chat("server", "--mysql", "mysql://chat:se/cret@127.0.0.1:3306/chat");
      expect(slash.code).toBe(2);
      const [first, ...more] = slash.err.trimEnd().split("\n");
      expect(first).toStartWith("chat server: --mysql is not a valid URL: the password (or user name) holds \"/\"");
      expect(first).toContain("percent-encode it");
      expect(first).toContain("/ as %2F");
      expect(first).toContain("--mysql-password-file");
      expect(first).not.toContain("se/cret");
      expect(more).toEqual(["see: chat server --help"]);
      // A "#" after a numeric-looking password even parses, as another host and port: still caught.
      const hash = chatWith({ CHAT_MYSQL_URL: "mysql://chat:12#34@127.0.0.1:3306/chat" }, "server");
      expect(hash.code).toBe(2);
      expect(hash.err).toContain('--mysql (from CHAT_MYSQL_URL) is not a valid URL: the password (or user name) holds "#"');
      const migrate = chat("migrate", "--mysql", "mysql://chat:a?b@127.0.0.1:3306/chat");
      expect(migrate.code).toBe(2);
      expect(migrate.err).toContain('chat migrate: --mysql is not a valid URL: the password (or user name) holds "?"');
    });

    it("takes the password from --mysql-password-file over the one in the URL", async () => {
      const { password } = chatUser();
      const url = await freshDatabase();
      const port = await freePort();
      const right = spawnChat(
        ["--host", "127.0.0.1", "--port", String(port), "--admin-port", "0", "--node", "pwfile1",
          "--mysql", withUrlPassword(url, "not-the-password"), "--mysql-password-file", passwordFile(`${password}\n`),
          "--hash-memory", String(CHEAP_HASH.memoryCost), "--hash-time", String(CHEAP_HASH.timeCost)],
      );
      await right.until(/INFO listen /);
      const w = await Wire.connect(port);
      await w.ok({ type: "register", name: "pwfile_user", password: "password-1" });
      w.close();
      await right.stop();

      const wrong = spawnChat(["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--node", "pwfile2"], {
        CHAT_MYSQL_URL: url,
        CHAT_MYSQL_PASSWORD_FILE: passwordFile("not-the-password\n"),
      });
      await wrong.until(new RegExp(`Access denied for user '${chatUser().user}'@'[^']*' \\(using password: YES\\)`));
      await wrong.stop();
    });

    it("passes a password holding / # ? @ % : and a space intact, from the file or percent-encoded in the URL", async () => {
      // A user the tests may create but not grant anything to: once it is past
      // the password, MariaDB refuses it the database, with a different error.
      const user = `pw_${process.pid}`;
      const admin = await mysql.createConnection({ uri: mysqlUrl() });
      await admin.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, AWKWARD]);
      users.push(user);
      await admin.end();
      const base = new URL(await freshDatabase());
      base.username = user;
      base.password = "";
      const pastPassword = new RegExp(`Access denied for user '${user}'@'[^']*' to database`);

      const fromFile = spawnChat(["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--node", "pwfile3"], {
        CHAT_MYSQL_URL: base.toString(),
        CHAT_MYSQL_PASSWORD_FILE: passwordFile(`${AWKWARD}\n`),
      });
      await fromFile.until(pastPassword);
      await fromFile.stop();
      const fromUrl = spawnChat(["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--node", "pwfile4"], {
        CHAT_MYSQL_URL: withUrlPassword(base.toString(), AWKWARD),
      });
      await fromUrl.until(pastPassword);
      await fromUrl.stop();
      const migrate = chat("migrate", "--mysql", base.toString(), "--mysql-password-file", passwordFile(AWKWARD));
      expect(migrate.code).toBe(1);
      expect(migrate.err).toMatch(pastPassword);
    });

    it("lets chat migrate read the password file too, from CHAT_MYSQL_PASSWORD_FILE", async () => {
      const url = await freshDatabase({ migrated: false });
      const r = chatWith(
        { CHAT_MYSQL_URL: withUrlPassword(url, "not-the-password"), CHAT_MYSQL_PASSWORD_FILE: passwordFile(`${chatUser().password}\r\n`) },
        "migrate",
      );
      expect(r.err).toBe("");
      expect(r.out).toContain("applied 001_init");
      expect(r.out).not.toContain(`:${chatUser().password}@`);
    });
  });
});
