import { describe, expect, it } from "bun:test";
import { FakeConnection, FakeDriver, fakeError, tick } from "../../pool/fake-connection.ts";
import { closeAfterEach } from "../support/fake-pools.ts";
import {
  PoolClosedError,
  PoolTimeoutError,
  createPool,
  endsConnection,
  lifetimeWithJitter,
  type Lease,
  type Pool,
  type PoolOptions,
} from "../../pool/index.ts";

const track = closeAfterEach();

/** A pool over fake connections; initSize 0 unless a test asks for more. */
function setup(options: PoolOptions = {}) {
  const driver = new FakeDriver();
  const pool = createPool({ initSize: 0, maxSize: 4, createConnection: driver.createConnection, ...options });
  track(pool, driver);
  return { pool, driver };
}

const fake = (lease: Lease) => lease.conn as unknown as FakeConnection;

/** Settles once `n` of the driver's connections have been closed. */
function closedCount(driver: FakeDriver, n: number): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    for (const c of driver.connections) void c.closed.then(() => ++closed === n && resolve());
  });
}

/** Whether a promise has settled after pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await tick();
  return done;
}

describe("pool: sizing", () => {
  it("opens no connection before the first lease", async () => {
    const { pool, driver } = setup({ initSize: 2 });
    await tick();
    expect(driver.attempts).toBe(0);
    expect(pool.stats().size).toBe(0);
  });

  it("opens initSize connections in the background after the first lease and keeps them", async () => {
    const { pool, driver } = setup({ initSize: 3 });
    const lease = await pool.lease();
    await tick();
    expect(driver.attempts).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 2, inUse: 1 });
    lease.release();
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3, inUse: 0 });
  });

  it("never has more than maxSize connections, counting those being opened", async () => {
    const { pool, driver } = setup({ maxSize: 3 });
    driver.manual = true;
    const leases = Array.from({ length: 10 }, () => pool.lease());
    await tick();
    expect(driver.attempts).toBe(3);
    expect(pool.stats()).toMatchObject({ pending: 3, waiting: 10, size: 0 });
    for (let i = 0; i < 3; i++) driver.completeConnect();
    const first = await Promise.all(leases.slice(0, 3));
    expect(pool.stats()).toMatchObject({ size: 3, inUse: 3, waiting: 7, pending: 0 });
    first[0]!.release();
    const fourth = await leases[3]!;
    expect(fourth.conn).toBe(first[0]!.conn);
    expect(driver.attempts).toBe(3);
    for (const l of [...first.slice(1), fourth]) l.release();
    await Promise.all(leases.slice(4).map((p) => p.then((l) => l.release())));
    expect(driver.attempts).toBe(3);
  });
});

describe("pool: order", () => {
  it("hands out the most recently returned connection first (LIFO)", async () => {
    const { pool } = setup();
    const [a, b, c] = await Promise.all([pool.lease(), pool.lease(), pool.lease()]);
    a!.release();
    b!.release();
    c!.release();
    const first = await pool.lease();
    const second = await pool.lease();
    expect(first.conn).toBe(c!.conn);
    expect(second.conn).toBe(b!.conn);
  });

  it("serves waiters first come, first served (FIFO)", async () => {
    const { pool } = setup({ maxSize: 1 });
    const held = await pool.lease();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      pool.lease().then((lease) => {
        order.push(n);
        return lease;
      }),
    );
    held.release();
    (await waiters[0]!).release();
    (await waiters[1]!).release();
    (await waiters[2]!).release();
    expect(order).toEqual([1, 2, 3]);
  });
});

describe("pool: query and execute", () => {
  it("runs a query on a connection it had to wait for, then returns the connection", async () => {
    const { pool, driver } = setup({ maxSize: 1 });
    const held = await pool.lease();
    const queued = pool.query("SELECT 1");
    expect(pool.stats().waiting).toBe(1);
    held.release();
    expect(await queued).toEqual([[], []]);
    expect(pool.stats()).toMatchObject({ waiting: 0, idle: 1, inUse: 0 });
    expect(driver.connections[0]!.queries).toEqual(["SELECT 1"]);
  });

  it("returns the connection after a query that succeeded or failed", async () => {
    const { pool, driver } = setup({ maxSize: 1 });
    await pool.execute("SELECT ?", [1]);
    driver.connections[0]!.failures.push(fakeError("syntax error", { code: "ER_PARSE_ERROR" }));
    await expect(pool.query("SELEC 1")).rejects.toThrow("syntax error");
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0, leases: 2 });
  });
});

describe("pool: timeouts", () => {
  it("rejects a lease with PoolTimeoutError after connectionTimeout and counts it", async () => {
    const { pool } = setup({ maxSize: 1, connectionTimeout: 30 });
    const held = await pool.lease();
    const started = performance.now();
    const err = await pool.lease().catch((e) => e);
    expect(err).toBeInstanceOf(PoolTimeoutError);
    expect(err.code).toBe("pool_timeout");
    expect(err.message).toContain("30 ms");
    expect(performance.now() - started).toBeGreaterThanOrEqual(28);
    expect(pool.stats()).toMatchObject({ timeouts: 1, waiting: 0, inUse: 1 });
    held.release();
    expect(pool.stats().idle).toBe(1);
  });

  it("times waiters out oldest first and serves the rest", async () => {
    const { pool } = setup({ maxSize: 1, connectionTimeout: 40 });
    const held = await pool.lease();
    const outcomes: string[] = [];
    const first = pool.lease().then(
      () => outcomes.push("first served"),
      () => outcomes.push("first timed out"),
    );
    await Bun.sleep(20); // spread the two deadlines apart
    const second = pool.lease().then(
      (l) => (outcomes.push("second served"), l.release()),
      () => outcomes.push("second timed out"),
    );
    await first;
    held.release();
    await second;
    expect(outcomes).toEqual(["first timed out", "second served"]);
  });
});

describe("pool: failed connects", () => {
  it("rejects the lease with the driver's error and frees the slot", async () => {
    const { pool, driver } = setup({ maxSize: 1 });
    const refused = fakeError("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED", fatal: true });
    driver.refusals.push(refused);
    await expect(pool.lease()).rejects.toBe(refused);
    await tick();
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, createErrors: 1 });
    const lease = await pool.lease();
    expect(pool.stats().size).toBe(1);
    lease.release();
  });

  it("gives a waiter behind a failed connect an attempt of its own", async () => {
    const { pool, driver } = setup({ maxSize: 1 });
    driver.manual = true;
    const first = pool.lease();
    const second = pool.lease();
    await tick();
    expect(driver.attempts).toBe(1);
    const refused = fakeError("connect ECONNREFUSED", { code: "ECONNREFUSED" });
    driver.failConnect(refused);
    await expect(first).rejects.toBe(refused);
    await driver.attempted(2);
    const conn = driver.completeConnect();
    const lease = await second;
    expect(fake(lease)).toBe(conn);
    lease.release();
  });

  it("treats a createConnection that throws like a refused connect", async () => {
    const boom = new Error("bad options");
    const { pool } = setup({
      createConnection: () => {
        throw boom;
      },
    });
    await expect(pool.lease()).rejects.toBe(boom);
    await tick();
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, createErrors: 1 });
  });
});

describe("pool: broken connections", () => {
  it("returns a connection that saw a fatal error to nobody", async () => {
    const { pool } = setup();
    const lease = await pool.lease();
    const conn = fake(lease);
    conn.failures.push(fakeError("Connection lost", { fatal: true, code: "PROTOCOL_CONNECTION_LOST" }));
    await expect(lease.conn.query("SELECT 1")).rejects.toThrow("Connection lost");
    await tick();
    lease.release();
    expect(conn.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, destroyed: 1 });
    const next = await pool.lease();
    expect(next.conn).not.toBe(lease.conn);
    next.release();
  });

  it("closes the connection when pool.query fails with a fatal error", async () => {
    const { pool, driver } = setup();
    (await pool.lease()).release();
    const conn = driver.connections[0]!;
    conn.failures.push(fakeError("read ECONNRESET", { fatal: true, code: "ECONNRESET" }));
    await expect(pool.query("SELECT 1")).rejects.toThrow("ECONNRESET");
    await tick();
    expect(conn.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, destroyed: 1 });
  });

  it("keeps the connection when pool.execute fails with an ordinary SQL error", async () => {
    const { pool, driver } = setup();
    (await pool.lease()).release();
    const conn = driver.connections[0]!;
    conn.failures.push(fakeError("Duplicate entry", { code: "ER_DUP_ENTRY" }));
    await expect(pool.execute("INSERT INTO t VALUES (?)", [1])).rejects.toThrow("Duplicate entry");
    await tick();
    expect(conn.destroyed).toBe(false);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, destroyed: 0 });
    await pool.execute("SELECT 1");
    expect(conn.queries).toEqual(["SELECT 1"]);
  });

  it("closes a connection whose query failed with 'Connection was killed', which mysql2 does not mark fatal", async () => {
    const { pool } = setup();
    const lease = await pool.lease();
    fake(lease).failures.push(Object.assign(new Error("Connection was killed"), { errno: 1927, sqlState: "70100" }));
    await expect(lease.conn.query("SELECT SLEEP(10)")).rejects.toThrow("Connection was killed");
    lease.release();
    expect(fake(lease).destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
  });

  it("closes a connection whose query failed with a connection-exception SQLSTATE (08xxx)", async () => {
    const { pool } = setup();
    const lease = await pool.lease();
    fake(lease).failures.push(Object.assign(new Error("Got an error reading communication packets"), { errno: 1158, sqlState: "08S01" }));
    await expect(lease.conn.execute("SELECT 1")).rejects.toThrow("communication packets");
    lease.release();
    expect(fake(lease).destroyed).toBe(true);
  });

  it("tells errors that end the session from ordinary SQL errors", () => {
    expect(endsConnection(fakeError("Connection lost", { fatal: true }))).toBe(true);
    expect(endsConnection(Object.assign(new Error("killed"), { errno: 1927 }))).toBe(true);
    expect(endsConnection(Object.assign(new Error("timeout"), { errno: 4031 }))).toBe(true);
    expect(endsConnection(Object.assign(new Error("comm"), { sqlState: "08S01" }))).toBe(true);
    expect(endsConnection(Object.assign(new Error("dup"), { errno: 1062, sqlState: "23000" }))).toBe(false);
    expect(endsConnection(Object.assign(new Error("query killed"), { errno: 1317, sqlState: "70100" }))).toBe(false);
    expect(endsConnection(null)).toBe(false);
  });

  it("removes an idle connection the server closed and gives the next lease a working one", async () => {
    const { pool, driver } = setup({ initSize: 1 });
    (await pool.lease()).release();
    const dead = driver.connections[0]!;
    dead.serverClose();
    expect(dead.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ idle: 0, destroyed: 1 });
    await driver.attempted(2); // refilled to initSize
    const lease = await pool.lease();
    expect(fake(lease)).not.toBe(dead);
    await lease.conn.query("SELECT 1");
    lease.release();
  });

  it("closes a connection that died while leased when it comes back", async () => {
    const { pool } = setup();
    const lease = await pool.lease();
    fake(lease).serverClose(); // would throw if the pool had no 'error' listener
    lease.release();
    expect(fake(lease).destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
  });

  it("frees the slot of a destroyed lease for the next waiter", async () => {
    const { pool } = setup({ maxSize: 1 });
    const broken = await pool.lease();
    const waiting = pool.lease();
    broken.destroy();
    const lease = await waiting;
    expect(lease.conn).not.toBe(broken.conn);
    expect(fake(broken).destroyed).toBe(true);
    lease.release();
  });
});

describe("pool: validation", () => {
  it("pings a connection idle longer than validationInterval before handing it out", async () => {
    const { pool } = setup({ validationInterval: 0 });
    const first = await pool.lease();
    expect(fake(first).pings).toBe(0); // just opened: no ping
    first.release();
    const second = await pool.lease();
    expect(second.conn).toBe(first.conn);
    expect(fake(second).pings).toBe(1);
    second.release();
  });

  it("does not ping a connection used within validationInterval", async () => {
    const { pool } = setup({ validationInterval: 60_000 });
    (await pool.lease()).release();
    const lease = await pool.lease();
    expect(fake(lease).pings).toBe(0);
    lease.release();
  });

  it("closes a connection that fails its ping and hands out another", async () => {
    const { pool } = setup({ validationInterval: 0 });
    const first = await pool.lease();
    first.release();
    fake(first).pingMode = "fail";
    const second = await pool.lease();
    expect(second.conn).not.toBe(first.conn);
    expect(fake(first).destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ validationFailures: 1, size: 1 });
    second.release();
  });

  it("counts a ping that does not answer within validationTimeout as failed", async () => {
    const { pool } = setup({ validationInterval: 0, validationTimeout: 20 });
    const first = await pool.lease();
    first.release();
    fake(first).pingMode = "hang";
    const second = await pool.lease();
    expect(second.conn).not.toBe(first.conn);
    expect(pool.stats().validationFailures).toBe(1);
    second.release();
  });
});

describe("pool: leases", () => {
  it("returns the connection once when release() is called twice", async () => {
    const { pool } = setup({ maxSize: 1 });
    const a = await pool.lease();
    a.release();
    const b = await pool.lease();
    expect(b.conn).toBe(a.conn);
    a.release(); // must not hand b's connection to someone else
    expect(pool.stats()).toMatchObject({ inUse: 1, idle: 0 });
    const c = pool.lease();
    expect(await settled(c)).toBe(false);
    b.release();
    (await c).release();
  });

  it("returns the lease at the end of an `await using` block, also when the block throws", async () => {
    const { pool } = setup();
    {
      await using lease = await pool.lease();
      await lease.conn.query("SELECT 1");
      expect(pool.stats().inUse).toBe(1);
    }
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
    const failing = async () => {
      await using lease = await pool.lease();
      expect(lease.released).toBe(false);
      throw new Error("handler failed");
    };
    await expect(failing()).rejects.toThrow("handler failed");
    await tick();
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it("keeps lease counts and a cumulative lease-wait histogram", async () => {
    const { pool } = setup({ maxSize: 1 });
    const held = await pool.lease();
    const waiting = pool.lease();
    await Bun.sleep(2);
    held.release();
    (await waiting).release();
    const s = pool.stats();
    expect(s.leases).toBe(2);
    expect(s.leaseWaitMsMax).toBeGreaterThan(1.5); // the second lease waited for the first
    expect(s.leaseWaitMsTotal).toBeGreaterThanOrEqual(s.leaseWaitMsMax);
    expect(s.leaseWaitHistogram.at(-1)).toEqual([Infinity, 2]);
    const counts = s.leaseWaitHistogram.map(([, n]) => n);
    expect(counts).toEqual([...counts].sort((x, y) => x - y)); // cumulative
  });
});

describe("pool: reaper and lifetime", () => {
  it("closes connections above initSize idle longer than maxIdleTime, least recently used first", async () => {
    const { pool, driver } = setup({ initSize: 1, maxSize: 3, maxIdleTime: 20, reapInterval: 10 });
    const leases = await Promise.all([pool.lease(), pool.lease(), pool.lease()]);
    for (const l of leases) l.release();
    await closedCount(driver, 2);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, destroyed: 2 });
    const kept = await pool.lease();
    expect(kept.conn).toBe(leases[2]!.conn);
    kept.release();
  });

  it("closes idle connections above initSize within about twice a short maxIdleTime, without a reapInterval", async () => {
    // The case that the fixed 10 s reaper got wrong: all four extras were still open 3 s later.
    const { pool, driver } = setup({ initSize: 1, maxSize: 5, maxIdleTime: 500 });
    const leases = await Promise.all(Array.from({ length: 5 }, () => pool.lease()));
    const released = performance.now();
    for (const l of leases) l.release();
    await closedCount(driver, 4);
    expect(performance.now() - released).toBeLessThan(2 * 500 + 250);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, destroyed: 4 });
  });

  it("retires a connection past maxLifetime when it comes back and replaces it", async () => {
    const { pool, driver } = setup({ initSize: 1, maxLifetime: 5 });
    const lease = await pool.lease();
    await Bun.sleep(10); // let the lifetime run out while leased
    lease.release();
    expect(fake(lease).ended).toBe(true);
    await driver.attempted(2);
    await tick();
    expect(pool.stats()).toMatchObject({ size: 1, destroyed: 1 });
  });

  it("does not hand out an idle connection past maxLifetime", async () => {
    const { pool } = setup({ maxLifetime: 5, reapInterval: 60_000 });
    const first = await pool.lease();
    first.release();
    await Bun.sleep(10);
    const second = await pool.lease();
    expect(second.conn).not.toBe(first.conn);
    expect(fake(first).ended).toBe(true);
    second.release();
  });

  it("has the reaper retire idle connections past maxLifetime and refill to initSize", async () => {
    const { pool, driver } = setup({ initSize: 1, maxLifetime: 20, reapInterval: 10 });
    const lease = await pool.lease();
    lease.release();
    await fake(lease).closed;
    await driver.attempted(2);
    await tick();
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, destroyed: 1 });
  });

  it("shortens each lifetime by a random 0-2.5%", () => {
    expect(lifetimeWithJitter(100_000, () => 0)).toBe(100_000);
    expect(lifetimeWithJitter(100_000, () => 1)).toBe(97_500);
    const spread = Array.from({ length: 200 }, () => lifetimeWithJitter(100_000));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(97_500);
    expect(Math.max(...spread)).toBeLessThanOrEqual(100_000);
    expect(new Set(spread).size).toBeGreaterThan(100);
    expect(lifetimeWithJitter(0)).toBe(Infinity); // 0 = no limit
  });
});

describe("pool: transactions", () => {
  it("commits what the callback did and returns its result", async () => {
    const { pool, driver } = setup();
    const result = await pool.transaction(async (conn) => {
      await conn.execute("INSERT INTO t VALUES (?)", [1]);
      return "done";
    });
    expect(result).toBe("done");
    expect(driver.connections[0]!.queries).toEqual(["BEGIN", "INSERT INTO t VALUES (?)", "COMMIT"]);
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
  });

  it("rolls back and rethrows when the callback throws, keeping the connection", async () => {
    const { pool, driver } = setup();
    const err = new Error("insufficient funds");
    await expect(pool.transaction(() => Promise.reject(err))).rejects.toBe(err);
    await tick();
    expect(driver.connections[0]!.queries).toEqual(["BEGIN", "ROLLBACK"]);
    expect(pool.stats()).toMatchObject({ idle: 1, destroyed: 0 });
  });

  it("closes the connection when the rollback itself fails", async () => {
    const { pool, driver } = setup();
    const err = new Error("handler failed");
    const tx = pool.transaction(async (conn) => {
      (conn as unknown as FakeConnection).failures.push(fakeError("rollback failed"));
      throw err;
    });
    await expect(tx).rejects.toBe(err);
    await tick();
    expect(driver.connections[0]!.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, destroyed: 1 });
  });
});

describe("pool: close", () => {
  it("rejects waiters and later leases with PoolClosedError, and closes leased connections as they come back", async () => {
    const { pool, driver } = setup({ maxSize: 2 });
    const [a, b] = await Promise.all([pool.lease(), pool.lease()]);
    const waiters = [pool.lease(), pool.lease(), pool.lease()];
    const closing = pool.close();
    for (const r of await Promise.allSettled(waiters)) expect(r).toMatchObject({ status: "rejected", reason: expect.any(PoolClosedError) });
    const err = await pool.lease().catch((e) => e);
    expect(err).toBeInstanceOf(PoolClosedError);
    expect(err.code).toBe("pool_closed");
    await expect(pool.query("SELECT 1")).rejects.toBeInstanceOf(PoolClosedError);
    await closing;
    expect(pool.closed).toBe(true);
    // A leased connection still works until it comes back, then it is closed.
    await a!.conn.query("SELECT 1");
    expect(fake(a!).ended).toBe(false);
    a!.release();
    b!.release();
    expect(fake(a!).ended).toBe(true);
    expect(fake(b!).ended).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, waiting: 0 });
    expect(driver.connections.every((c) => c.ended)).toBe(true);
  });

  it("closes idle connections", async () => {
    const { pool, driver } = setup({ initSize: 3 });
    (await pool.lease()).release();
    await tick();
    expect(pool.stats().idle).toBe(3);
    await pool.close();
    expect(driver.connections.map((c) => c.ended)).toEqual([true, true, true]);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, destroyed: 3 });
  });

  it("waits for connections being opened and closes them", async () => {
    const { pool, driver } = setup();
    driver.manual = true;
    const lease = pool.lease();
    await tick();
    const closing = pool.close();
    await expect(lease).rejects.toBeInstanceOf(PoolClosedError);
    expect(await settled(closing)).toBe(false);
    const conn = driver.completeConnect();
    await closing;
    expect(conn.ended).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0 });
  });

  it("returns the same promise when called twice", async () => {
    const { pool } = setup();
    (await pool.lease()).release();
    const a = pool.close();
    expect(pool.close()).toBe(a);
    await a;
  });
});
