/** TLS: a server with a self-signed certificate, the client library and the console client trusting it. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connectClient } from "../../src/client/index.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { Wire } from "../support/wire.ts";

const dir = mkdtempSync(`${tmpdir()}/chat-tls-`);
let node: NodeProcess;
let cert: string;

beforeAll(async () => {
  const r = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
    { stderr: "pipe" },
  );
  if (!r.success) throw new Error(`openssl failed: ${r.stderr}`);
  cert = await Bun.file(`${dir}/cert.pem`).text();
  node = await spawnNode({ node: "tls1", mysqlUrl: await freshDatabase(), args: ["--tls-cert", `${dir}/cert.pem`, "--tls-key", `${dir}/key.pem`] });
});

afterAll(async () => {
  await node?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS", () => {
  it("serves the protocol to a client that trusts the certificate", async () => {
    const c = await connectClient({ port: node.port, tls: { ca: cert, serverName: "localhost" } });
    expect(c.node).toBe("tls1");
    await c.register("tls_user", "password-1");
    const login = await c.login({ name: "tls_user", password: "password-1" });
    expect(login.user.name).toBe("tls_user");
    await c.close();
  });

  it("serves the WebSocket transport over TLS on the web port with the same certificate", async () => {
    const w = await Wire.connectWs(node.webPort, { host: "localhost", tls: { ca: cert } });
    expect(w.hello?.node).toBe("tls1");
    await w.ok({ type: "ping" });
    w.close();
    await expect(Wire.connectWs(node.webPort, { host: "localhost", tls: { rejectUnauthorized: true } })).rejects.toThrow();
  });

  it("serves the client library over wss:// when it is given the private CA, and refuses it without", async () => {
    const c = await connectClient({ url: `wss://localhost:${node.webPort}/ws`, tls: { ca: cert }, connectTimeoutMs: 3000 });
    expect(c.node).toBe("tls1");
    await c.register("wss_user", "password-1");
    const login = await c.login({ name: "wss_user", password: "password-1" });
    expect(login.user.name).toBe("wss_user");
    await c.close();
    await expect(connectClient({ url: `wss://localhost:${node.webPort}/ws`, connectTimeoutMs: 3000 })).rejects.toThrow();
  });

  it("refuses a client that does not trust the certificate", async () => {
    await expect(connectClient({ port: node.port, tls: true, connectTimeoutMs: 3000 })).rejects.toThrow();
  });

  it("sends nothing readable to a plain-TCP client", async () => {
    let got = "";
    const s = await Bun.connect({ hostname: "127.0.0.1", port: node.port, socket: { data: (_s, d) => void (got += d.toString()) } });
    s.write('{"type":"ping"}\n');
    await Bun.sleep(300); // a bounded wait to show that no hello arrives
    s.end();
    expect(got).not.toContain("hello");
  });

  it("lets the console client log in over TLS with --tls --ca", async () => {
    const p = Bun.spawn([process.execPath, `${import.meta.dir}/../../src/main.ts`, "client", "--port", String(node.port), "--tls", "--ca", `${dir}/cert.pem`], {
      stdin: new Blob(["1\ntls_user\npassword-1\nfriends\nquit\n"]),
      // Its own place to remember the session: never the user's, never a stale one.
      env: { ...process.env, XDG_CONFIG_HOME: `${dir}/config` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toContain("tls_user");
  });
});

/**
 * The deploy guide's certificates: deploy/make-certs.sh makes a private
 * authority and a server certificate; the server runs on those, clients
 * trust the authority alone (never the server's certificate itself).
 */
describe("TLS with the certificates of deploy/make-certs.sh", () => {
  const MAKE_CERTS = `${import.meta.dir}/../../deploy/make-certs.sh`;
  const certs = `${dir}/guide`;
  let guided: NodeProcess;
  let ca: string;

  const makeCerts = (out: string, ...names: string[]) => {
    const r = Bun.spawnSync(["bash", MAKE_CERTS, "--dir", out, ...names], { stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new Error(`make-certs.sh failed: ${r.stderr}`);
    return r.stdout.toString();
  };

  beforeAll(async () => {
    makeCerts(certs, "localhost", "127.0.0.1");
    ca = await Bun.file(`${certs}/ca.pem`).text();
    guided = await spawnNode({ node: "tls2", mysqlUrl: await freshDatabase(), args: ["--tls-cert", `${certs}/chat.pem`, "--tls-key", `${certs}/chat.key`] });
  });

  afterAll(async () => {
    await guided?.kill();
  });

  it("keeps the authority's key to its owner and reuses the authority on a second run", async () => {
    const mode = (f: string) => (Bun.spawnSync(["stat", "-c", "%a", `${certs}/${f}`]).stdout.toString().trim());
    expect(mode("ca.key")).toBe("600");
    expect(mode("chat.key")).toBe("600");
    const before = await Bun.file(`${certs}/ca.pem`).text();
    const again = `${dir}/guide-again`;
    Bun.spawnSync(["cp", "-a", certs, again]);
    expect(makeCerts(again, "localhost", "127.0.0.1")).toContain("existing authority");
    expect(await Bun.file(`${again}/ca.pem`).text()).toBe(before);
    expect(await Bun.file(`${again}/chat.pem.old`).text()).toBe(await Bun.file(`${certs}/chat.pem`).text());
  });

  it("serves a client that trusts only the authority, by address and by name", async () => {
    const byAddress = await connectClient({ host: "127.0.0.1", port: guided.port, tls: { ca } });
    expect(byAddress.node).toBe("tls2");
    await byAddress.close();
    const byName = await connectClient({ host: "127.0.0.1", port: guided.port, tls: { ca, serverName: "localhost" } });
    expect(byName.node).toBe("tls2");
    await byName.register("guide_user", "password-1");
    await byName.close();
  });

  it("refuses a name the certificate was not made for", async () => {
    await expect(connectClient({ host: "127.0.0.1", port: guided.port, tls: { ca, serverName: "elsewhere.example" }, connectTimeoutMs: 3000 })).rejects.toThrow();
  });

  it("refuses a client that trusts another authority", async () => {
    makeCerts(`${dir}/other`, "localhost", "127.0.0.1");
    const other = await Bun.file(`${dir}/other/ca.pem`).text();
    await expect(connectClient({ host: "127.0.0.1", port: guided.port, tls: { ca: other }, connectTimeoutMs: 3000 })).rejects.toThrow();
  });

  it("lets `chat client --tls --ca ca.pem` log in, as the guide says", async () => {
    const p = Bun.spawn(
      [process.execPath, `${import.meta.dir}/../../src/main.ts`, "client", "--host", "127.0.0.1", "--port", String(guided.port), "--tls", "--ca", `${certs}/ca.pem`],
      { stdin: new Blob(["1\nguide_user\npassword-1\nfriends\nquit\n"]), stdout: "pipe", stderr: "pipe" },
    );
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toContain("guide_user");
  });
});
