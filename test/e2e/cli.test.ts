/** The `chat` command line: help, version, bad flags, config files, migrate. */
import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "../../scripts/services.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";

const MAIN = `${import.meta.dir}/../../src/main.ts`;

function chat(...args: string[]) {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { env: { ...process.env, CHAT_MYSQL_URL: "", CHAT_REDIS_URL: "" } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("chat", () => {
  it("prints its commands with --help and its version with --version", () => {
    const help = chat("--help");
    expect(help.code).toBe(0);
    for (const cmd of ["server", "client", "migrate"]) expect(help.out).toContain(cmd);
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
      expect(w.frames[0]).toEqual({ type: "hello", version: 1, node: "cfg1" });
      await w.ok({ type: "register", name: "cfg_user", password: "password-1" });
      const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      expect(metrics).toMatch(/chat_pool_size [123]\n/);
      w.close();
    } finally {
      await node?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
