/**
 * The login throttle over real sockets: failed password logins of one account
 * (or from one address) make the next ones wait, answered rate_limited with
 * the wait in the message; the right password works again after it; token
 * logins are never held back; the figures are in the metrics.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { waitUntil as until } from "../support/wait.ts";
import type { Wire } from "../support/wire.ts";
import { parseMetrics } from "../support/probes.ts";
import type { Metrics } from "../../src/server/metrics.ts";

/** One labelled sample of a server's /metrics page, as Prometheus would read it. */
async function scraped(metrics: Metrics, name: string, scope: string): Promise<number | undefined> {
  return parseMetrics(await metrics.render()).get(`${name}{scope="${scope}"}`);
}

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

async function registered(w: Wire, name: string, password = "right-password"): Promise<number> {
  return (await w.ok({ type: "register", name, password })).user.id;
}

describe("the login throttle", () => {
  it("holds back the sixth wrong password of an account, not another account from the same address, and lets the right one in after the wait", async () => {
    // A 1.5 s first wait: long enough that the sixth attempt surely comes within it on a busy machine.
    const s = await server({ loginDelayMs: 1500 });
    const metrics = s.server.services.metrics;
    const w = await s.connect();
    const alice = await registered(w, "thr_alice");
    await registered(w, "thr_bob");
    for (let i = 1; i <= 5; i++) expect(await w.req({ type: "login", name: "thr_alice", password: `wrong-${i}` })).toMatchObject({ code: "bad_credentials" });
    const thrown = Date.now();

    const sixth = await w.req({ type: "login", name: "thr_alice", password: "wrong-6" });
    expect(sixth).toMatchObject({ type: "error", code: "rate_limited" });
    expect(sixth.message).toMatch(/^too many failed logins for this account; try again in [12] s$/);
    // By id, the same account; and the right password is held back too while the wait lasts.
    expect(await w.req({ type: "login", user: alice, password: "right-password" })).toMatchObject({ code: "rate_limited" });
    expect(await scraped(metrics, "chat_logins_throttled_total", "account")).toBe(2);
    expect(await scraped(metrics, "chat_login_throttle_keys", "account")).toBe(1);
    expect(await scraped(metrics, "chat_login_throttle_keys", "address")).toBe(1);

    // Another account from the same address is untouched: its mistakes and its login go through.
    const other = await s.connect();
    expect(await other.req({ type: "login", name: "thr_bob", password: "wrong" })).toMatchObject({ code: "bad_credentials" });
    expect(await other.req({ type: "login", name: "thr_bob", password: "right-password" })).toMatchObject({ type: "ok", user: { name: "thr_bob" } });

    // After the wait the right password works (attempts refused meanwhile did not count as failures).
    const reply = await until("the wait to end", async () => {
      const r = await w.req({ type: "login", name: "thr_alice", password: "right-password" });
      return r.code === "rate_limited" ? undefined : r;
    });
    expect(reply).toMatchObject({ type: "ok", user: { id: alice } });
    expect(Date.now() - thrown).toBeGreaterThanOrEqual(1500);
    // The success forgave the account: a mistake now is just a mistake.
    const next = await s.connect();
    expect(await next.req({ type: "login", name: "thr_alice", password: "wrong-again" })).toMatchObject({ code: "bad_credentials" });
    expect(await scraped(metrics, "chat_logins_throttled_total", "address")).toBe(0);
    for (const c of [w, other, next]) c.close();
  });

  it("holds back every password login from an address after its failures across accounts, but never a token login", async () => {
    const s = await server({ loginAddressFailures: 3, loginDelayMs: 5000 });
    const w = await s.connect();
    await registered(w, "thr_carol");
    const token = (await w.ok({ type: "login", name: "thr_carol", password: "right-password" })).token;
    const guesser = await s.connect();
    for (const name of ["thr_nobody1", "thr_nobody2", "thr_nobody3"])
      expect(await guesser.req({ type: "login", name, password: "guess" })).toMatchObject({ code: "bad_credentials" });
    const held = await guesser.req({ type: "login", name: "thr_carol", password: "right-password" });
    expect(held).toMatchObject({ code: "rate_limited" });
    expect(held.message).toMatch(/^too many failed logins from your address; try again in [1-5] s$/);
    expect(await guesser.req({ type: "login", token })).toMatchObject({ type: "ok", user: { name: "thr_carol" } });
    expect(await scraped(s.server.services.metrics, "chat_logins_throttled_total", "address")).toBe(1);
    for (const c of [w, guesser]) c.close();
  });

  it("lets a client's few mistakes through untouched with the default settings", async () => {
    const s = await server();
    const w = await s.connect();
    await registered(w, "thr_dave");
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) expect(await w.req({ type: "login", name: "thr_dave", password: "typo" })).toMatchObject({ code: "bad_credentials" });
      expect(await w.req({ type: "login", name: "thr_dave", password: "right-password" })).toMatchObject({ type: "ok" });
      expect((await w.req({ type: "logout" })).type).toBe("ok");
    }
    expect(await scraped(s.server.services.metrics, "chat_logins_throttled_total", "account")).toBe(0);
    w.close();
  });
});
