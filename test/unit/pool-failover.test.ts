import { describe, expect, it } from "bun:test";
import { FakeDriver, type FakeConnection, fakeError, tick } from "../../pool/fake-connection.ts";
import { closeAfterEach } from "../support/fake-pools.ts";
import {
  createPool,
  failoverDelay,
  HostsUnavailableError,
  notReady,
  probeOrder,
  type FailoverEvent,
  type Lease,
  type Pool,
  type PoolOptions,
} from "../../pool/index.ts";

const A = "a:3306";
const B = "b:3306";
const C = "c:3306";

const track = closeAfterEach();

/** A pool over fake hosts a, b, c (in that order); no jitter unless a test asks for it. */
function setup(options: PoolOptions = {}) {
  const driver = new FakeDriver();
  const events: FailoverEvent[] = [];
  const waiting: Array<() => void> = [];
  const pool = createPool({
    hosts: ["a", "b", "c"],
    initSize: 0,
    maxSize: 4,
    failoverJitter: 0,
    createConnection: driver.createConnection,
    onFailover: (e) => {
      events.push(e);
      for (const w of waiting.splice(0)) w();
    },
    ...options,
  });
  track(pool, driver);
  /** Settles once the pool has moved `n` times in all. */
  const moved = (n: number) => new Promise<void>((resolve) => (events.length >= n ? resolve() : waiting.push(() => events.length >= n && resolve())));
  return { pool, driver, events, moved };
}

const fake = (lease: Lease) => lease.conn as unknown as FakeConnection;

describe("pool over a host list: failover", () => {
  it("sends every connection to the first host while it is up", async () => {
    const { pool, driver } = setup();
    const leases = await Promise.all([pool.lease(), pool.lease(), pool.lease()]);
    expect(leases.map((l) => fake(l).host)).toEqual([A, A, A]);
    expect(driver.connects).toEqual([A, A, A]);
    expect(pool.host).toBe(A);
    for (const l of leases) l.release();
  });

  it("moves to the next host that answers when a connect to the first fails, trying them in list order", async () => {
    const { pool, driver, events } = setup();
    driver.host(A).down = true;
    driver.host(B).down = true;
    const lease = await pool.lease();
    expect(fake(lease).host).toBe(C);
    // The failed connect, then one probe per host in order, then the connection itself.
    expect(driver.connects).toEqual([A, B, C, C]);
    expect(pool.host).toBe(C);
    expect(events).toEqual([{ from: A, to: C, kind: "failover" }]);
    expect(pool.stats()).toMatchObject({ failovers: 1, size: 1, pending: 0 });
    lease.release();
  });

  it("passes over a Galera node that is not Synced and takes one that is", async () => {
    const { pool, driver } = setup();
    driver.host(A).down = true;
    driver.host(B).wsrep = { ready: true, state: "Donor/Desynced" };
    driver.host(C).wsrep = { ready: true, state: "Synced" };
    const lease = await pool.lease();
    expect(fake(lease).host).toBe(C);
    lease.release();
  });

  it("moves on when the host dies under its connections, trying the current host first", async () => {
    const { pool, driver, moved } = setup();
    (await pool.lease()).release();
    driver.killHost(A);
    await moved(1);
    expect(driver.connects).toEqual([A, A, B]); // the first connection, the probe of a (refused), the probe of b
    const lease = await pool.lease();
    expect(fake(lease).host).toBe(B);
    lease.release();
  });

  it("stays on its host when one connection dies (a KILL) but the host still answers and is ready", async () => {
    const { pool, driver } = setup({ initSize: 1 });
    (await pool.lease()).release();
    driver.connections[0]!.serverClose();
    await driver.attempted(3); // the probe of a, then the replacement
    await tick();
    expect(driver.connects).toEqual([A, A, A]);
    expect(pool.host).toBe(A);
    expect(pool.stats()).toMatchObject({ failovers: 0, size: 1 });
  });

  it("opens one probe at a time while many borrowers wait, then serves them all on the next host", async () => {
    const { pool, driver } = setup({ maxSize: 4 });
    (await pool.lease()).release();
    driver.manual = true;
    driver.killHost(A);
    const leases = Array.from({ length: 20 }, () => pool.lease());
    await tick();
    expect(driver.held).toBe(1); // the probe of a: nobody else connects meanwhile
    driver.failConnect(fakeError("connect ECONNREFUSED a:3306", { code: "ECONNREFUSED", fatal: true }));
    await driver.attempted(3);
    expect(driver.held).toBe(1); // the probe of b
    driver.completeConnect();
    await driver.attempted(7);
    await tick();
    expect(driver.held).toBe(4); // then maxSize connections to b for the 20 waiters, no more
    for (let i = 0; i < 4; i++) driver.completeConnect();
    const served = await Promise.all(leases.map((p) => p.then((l) => (l.release(), fake(l).host))));
    expect(new Set(served)).toEqual(new Set([B]));
    expect(driver.connects).toEqual([A, A, B, B, B, B, B]);
    expect(pool.stats()).toMatchObject({ size: 4, pending: 0, waiting: 0 });
  });

  it("passes over a host that accepts connections but does not answer the readiness check within validationTimeout", async () => {
    const { pool, driver } = setup({ validationTimeout: 30 });
    driver.host(A).down = true;
    driver.host(B).silent = true;
    const lease = await pool.lease();
    expect(fake(lease).host).toBe(C);
    const probeOfB = driver.connections.find((c) => c.host === B)!;
    expect(probeOfB.destroyed).toBe(true); // no goodbye to a host that may never read it
    lease.release();
  });

  it("gives every waiter a HostsUnavailableError naming each host tried and why, and leaks no slot", async () => {
    const { pool, driver } = setup({ maxSize: 2 });
    driver.host(A).down = true;
    driver.host(B).wsrep = { ready: false, state: "Joining" };
    driver.host(C).down = true;
    const results = await Promise.allSettled([pool.lease(), pool.lease(), pool.lease()]);
    const err = (results[0] as PromiseRejectedResult).reason as HostsUnavailableError;
    for (const r of results) expect(r.status === "rejected" && r.reason).toBe(err); // one round, one answer for all
    expect(err).toBeInstanceOf(HostsUnavailableError);
    expect(err.code).toBe("hosts_unavailable");
    expect(err.message).toBe(
      "no database host is ready: b:3306 (not ready: wsrep_ready=OFF, wsrep_local_state_comment=Joining), " +
        "c:3306 (connect ECONNREFUSED c:3306), a:3306 (connect ECONNREFUSED a:3306)",
    );
    await tick();
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, waiting: 0 });
    // The hosts come back: both slots are free again.
    driver.host(A).down = false;
    const both = await Promise.all([pool.lease(), pool.lease()]);
    expect(both.map((l) => fake(l).host)).toEqual([A, A]);
    expect(pool.stats()).toMatchObject({ size: 2, inUse: 2 });
    for (const l of both) l.release();
  });

  it("closes connections to the host it left as they come back, so writes go to one host", async () => {
    const { pool, driver, moved } = setup();
    const [held, other] = await Promise.all([pool.lease(), pool.lease()]);
    other!.release();
    // a leaves the primary component: its queries fail with 1047 and it reports itself not ready.
    driver.host(A).wsrep = { ready: false, state: "Initialized" };
    fake(held!).failures.push(Object.assign(new Error("WSREP has not yet prepared node for application use"), { errno: 1047, code: "ER_UNKNOWN_COM_ERROR" }));
    await expect(held!.conn.query("SELECT 1")).rejects.toThrow("WSREP");
    await moved(1);
    expect(pool.host).toBe(B);
    expect(fake(other!).ended).toBe(true); // idle on a: closed at the move
    const stillOnA = await pool.lease(); // (held was marked dead; this one is new, on b)
    expect(fake(stillOnA).host).toBe(B);
    held!.release();
    expect(fake(held!).destroyed).toBe(true);
    stillOnA.release();
    expect(driver.openOn(A)).toEqual([]);
  });

  it("closes a healthy connection to the old host when it comes back after a failover", async () => {
    const { pool, driver, moved } = setup();
    const [longRunning, dying] = await Promise.all([pool.lease(), pool.lease()]);
    driver.host(A).down = true; // refuses new connects; the open ones still work
    fake(dying!).serverClose();
    await moved(1);
    await longRunning!.conn.query("SELECT 1");
    longRunning!.release();
    expect(fake(longRunning!).ended).toBe(true);
    dying!.release();
    expect(pool.stats()).toMatchObject({ size: 0, inUse: 0 });
  });

  it("waits a random head start of up to failoverJitter before the first probe", async () => {
    const { pool, driver } = setup({ failoverJitter: 120 });
    (await pool.lease()).release();
    const random = Math.random;
    Math.random = () => 0.99;
    try {
      const started = performance.now();
      driver.killHost(A);
      await driver.attempted(2);
      expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    } finally {
      Math.random = random;
    }
  });

  it("rejects a transaction whose connection dies mid-way with the connection error, without a COMMIT, and frees its slot", async () => {
    const { pool, driver } = setup({ maxSize: 1 });
    const lost = fakeError("Connection lost: The server closed the connection.", { fatal: true, code: "PROTOCOL_CONNECTION_LOST" });
    const tx = pool.transaction(async (conn) => {
      await conn.execute("INSERT INTO messages VALUES (1)");
      (conn as unknown as FakeConnection).failures.push(lost);
      await conn.execute("INSERT INTO messages VALUES (2)");
    });
    await expect(tx).rejects.toBe(lost);
    const conn = driver.connections[0]!;
    expect(conn.queries).toEqual(["BEGIN", "INSERT INTO messages VALUES (1)"]);
    expect(conn.destroyed).toBe(true);
    const next = await pool.lease(); // the slot is free (maxSize 1)
    expect(next.conn).not.toBe(conn.asConnection());
    next.release();
  });
});

describe("pool over a host list: failback", () => {
  it("stays on the later host when the first comes back, unless failback is on", async () => {
    const { pool, driver } = setup({ reapInterval: 10 });
    driver.host(A).down = true;
    (await pool.lease()).release();
    expect(pool.host).toBe(B);
    driver.host(A).down = false;
    await Bun.sleep(60); // several reaper runs: none may move it back
    expect(pool.host).toBe(B);
  });

  it("with failback on, moves back to the first host once it answers and is ready, and closes the idle connections to the later one", async () => {
    const { pool, driver, events, moved } = setup({ reapInterval: 10, failback: true });
    driver.host(A).down = true;
    const onB = await pool.lease();
    onB.release();
    driver.host(A).down = false;
    driver.host(A).wsrep = { ready: true, state: "Joining" };
    await driver.attempted(4); // a probe of a at a reaper run: not Synced yet, so no move
    expect(pool.host).toBe(B);
    driver.host(A).wsrep = { ready: true, state: "Synced" };
    await moved(2);
    expect(events[1]).toEqual({ from: B, to: A, kind: "failback" });
    expect(fake(onB).ended).toBe(true);
    const lease = await pool.lease();
    expect(fake(lease).host).toBe(A);
    lease.release();
  });
});

describe("failover rules", () => {
  it("tries the others in list order from the current host, the current one first after a lost connection and last after a failed connect", () => {
    expect(probeOrder(3, 0, true)).toEqual([0, 1, 2]);
    expect(probeOrder(3, 0, false)).toEqual([1, 2, 0]);
    expect(probeOrder(3, 1, false)).toEqual([2, 0, 1]);
    expect(probeOrder(3, 2, true)).toEqual([2, 0, 1]);
  });

  it("draws each failover's head start uniformly from 0 to the jitter", () => {
    expect(failoverDelay(250, () => 0)).toBe(0);
    expect(failoverDelay(250, () => 0.5)).toBe(125);
    const spread = Array.from({ length: 200 }, () => failoverDelay(250));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...spread)).toBeLessThanOrEqual(250);
    expect(new Set(spread).size).toBeGreaterThan(100);
  });

  it("counts a plain MariaDB as ready and a Galera node only when wsrep_ready is ON and it is Synced", () => {
    expect(notReady([{ k: "WSREP_ON", v: "OFF" }, { k: "WSREP_READY", v: "OFF" }])).toBeUndefined();
    expect(notReady([])).toBeUndefined();
    const galera = (ready: string, state: string) => [
      { k: "WSREP_ON", v: "ON" },
      { k: "WSREP_READY", v: ready },
      { k: "WSREP_LOCAL_STATE_COMMENT", v: state },
    ];
    expect(notReady(galera("ON", "Synced"))).toBeUndefined();
    expect(notReady(galera("ON", "Donor/Desynced"))).toBe("not ready: wsrep_ready=ON, wsrep_local_state_comment=Donor/Desynced");
    expect(notReady(galera("OFF", "Initialized"))).toContain("wsrep_ready=OFF");
  });
});
