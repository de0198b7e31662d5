/**
 * The deploy guide's Redis: `requirepass` set, the password in the chat URL
 * (redis://:PASSWORD@host:port, percent-encoded). A Redis of its own here,
 * started with --requirepass on a free loopback port: two nodes share it and
 * deliver across it; a wrong or missing password stops a node at once with
 * one line that says what to fix, and never prints the password.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/services.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";

/** `/` and `#` need percent-encoding in a URL: the guide says so, the server must decode them. */
const PASSWORD = "r3dis/pass#word";
const dir = mkdtempSync(`${tmpdir()}/chat-redis-pw-`);
let redis: Subprocess;
let port: number;
let dbUrl: string;
const nodes: NodeProcess[] = [];
const urlWith = (password?: string) => `redis://${password === undefined ? "" : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`;

beforeAll(async () => {
  port = await freePort();
  redis = Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", dir],
    { stdout: "pipe", stderr: "pipe" },
  );
  // Redis prints "Ready to accept connections" once it listens.
  let out = "";
  const dec = new TextDecoder();
  for await (const chunk of redis.stdout as ReadableStream<Uint8Array>) {
    out += dec.decode(chunk, { stream: true });
    if (out.includes("Ready to accept connections")) break;
  }
  if (!out.includes("Ready to accept connections")) throw new Error(`redis-server did not start:\n${out}`);
  dbUrl = await freshDatabase();
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  redis?.kill("SIGTERM");
  await redis?.exited;
  rmSync(dir, { recursive: true, force: true });
});

async function refusal(node: string, url: string): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  const message = await spawnNode({ node, mysqlUrl: dbUrl, redisUrl: url }).then(
    (n) => {
      nodes.push(n);
      return "started";
    },
    (e: Error) => e.message,
  );
  return { message, ms: Date.now() - t0 };
}

describe("Redis with requirepass", () => {
  it("carries a cluster when the URL holds the password, percent-encoded", async () => {
    const [a, b] = await Promise.all([spawnNode({ node: "rp1", mysqlUrl: dbUrl, redisUrl: urlWith(PASSWORD) }), spawnNode({ node: "rp2", mysqlUrl: dbUrl, redisUrl: urlWith(PASSWORD) })]);
    nodes.push(a!, b!);
    expect((await a!.health()).body.redis).toBe("up");
    const wa = await a!.connect();
    const wb = await b!.connect();
    await wa.req({ type: "register", name: "rp_alice", password: "password-1" });
    await wb.req({ type: "register", name: "rp_bob", password: "password-1" });
    await wa.ok({ type: "login", name: "rp_alice", password: "password-1" });
    const bob = (await wb.ok({ type: "login", name: "rp_bob", password: "password-1" })).user.id;
    await wa.ok({ type: "add_friend", user: bob });
    const sent = await wa.ok({ type: "send", to: bob, text: "through a Redis with a password" });
    expect((await wb.push("msg", (f) => f.mid === sent.mid)).text).toBe("through a Redis with a password");
    // The log shows the URL without the password.
    expect(a!.log()).toContain(`redis=redis://:***@127.0.0.1:${port}`);
    expect(a!.log()).not.toContain(encodeURIComponent(PASSWORD));
    wa.close();
    wb.close();
  });

  it("stops at once with one clear line when the password is wrong", async () => {
    const { message, ms } = await refusal("rp3", urlWith("not-the-password"));
    expect(message).toContain("exited with 1");
    expect(message).toMatch(/chat server: redis: WRONGPASS[^\n]*; check the password in --redis/);
    expect(message).not.toContain("not-the-password");
    expect(ms).toBeLessThan(10_000);
  });

  it("stops at once and says a password is needed when the URL has none", async () => {
    const { message } = await refusal("rp4", urlWith());
    expect(message).toContain("exited with 1");
    expect(message).toMatch(/chat server: redis: NOAUTH[^\n]*; this Redis wants a password \(requirepass\)/);
  });
});
