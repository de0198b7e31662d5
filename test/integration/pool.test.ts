import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import mysql, { type Connection, type RowDataPacket } from "mysql2/promise";
import { createPool, poolOptionsFromUrl, type Pool, type PoolOptions } from "../../pool/index.ts";
import { freePort } from "../../scripts/services.ts";
import { freshDatabase, mysqlUrl } from "../support/db.ts";

let admin: Connection;
const pools: Pool[] = [];

beforeAll(async () => {
  admin = await mysql.createConnection(mysqlUrl());
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await admin.end();
});

function pool(options: PoolOptions = {}): Pool {
  const p = createPool({ ...poolOptionsFromUrl(mysqlUrl()), initSize: 0, ...options });
  pools.push(p);
  return p;
}

/** Settles when mysql2 reports the connection gone ('end' or 'error', whichever comes). */
function gone(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    conn.once("end", () => resolve());
    conn.once("error", () => resolve());
  });
}

async function connectionsTo(database: string): Promise<number> {
  const [rows] = await admin.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?", [database]);
  return Number(rows[0]!.n);
}

describe("pool on MariaDB", () => {
  it("lends a utf8mb4 connection with `await using` and takes it back at the end of the block", async () => {
    const p = pool();
    {
      await using lease = await p.lease();
      const [rows] = await lease.conn.query<RowDataPacket[]>("SELECT @@character_set_client AS cs, '😀' AS emoji");
      expect(rows[0]!.cs).toBe("utf8mb4");
      expect(rows[0]!.emoji).toBe("😀");
      expect(p.stats().inUse).toBe(1);
    }
    expect(p.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it("replaces an idle connection killed on the server (KILL) so the next lease works", async () => {
    const p = pool();
    const lease = await p.lease();
    const killed = lease.conn;
    const ended = gone(killed);
    lease.release();
    await admin.query(`KILL ${killed.threadId}`);
    await ended;
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, destroyed: 1 });
    const [rows] = await p.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id");
    expect(rows[0]!.id).not.toBe(killed.threadId);
  });

  it("replaces an idle connection the server dropped after wait_timeout", async () => {
    const p = pool();
    const lease = await p.lease();
    await lease.conn.query("SET SESSION wait_timeout = 1");
    const dropped = gone(lease.conn);
    lease.release();
    await dropped;
    expect(p.stats()).toMatchObject({ size: 0, destroyed: 1 });
    const [rows] = await p.execute<RowDataPacket[]>("SELECT 1 + ? AS two", [1]);
    expect(rows[0]!.two).toBe(2);
  });

  it("does not return a connection killed during its query to the idle stack, even before the socket closes", async () => {
    const p = pool();
    const err = await p.query("KILL CONNECTION CONNECTION_ID()").catch((e) => e);
    expect(err.errno).toBe(1927); // "Connection was killed": not marked fatal by mysql2
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, destroyed: 1 });
    await p.query("SELECT 1");
  });

  it("closes a connection whose query failed with a fatal error and hands out a working one", async () => {
    const p = pool({ maxSize: 1 });
    const lease = await p.lease();
    const running = lease.conn.query("SELECT SLEEP(10)");
    await admin.query(`KILL ${lease.conn.threadId}`);
    await expect(running).rejects.toThrow();
    lease.release();
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, destroyed: 1 });
    const [rows] = await p.query<RowDataPacket[]>("SELECT 1 AS one");
    expect(rows[0]!.one).toBe(1);
  });

  it("rejects lease() with the driver's ECONNREFUSED on a closed port and frees the slot", async () => {
    const port = await freePort();
    const p = createPool({ host: "127.0.0.1", port, user: "chat", password: "chat", maxSize: 1, initSize: 0 });
    pools.push(p);
    const results = await Promise.allSettled([p.lease(), p.lease(), p.lease()]);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason.code).toBe("ECONNREFUSED");
    }
    expect(p.stats()).toMatchObject({ size: 0, pending: 0, createErrors: 3, timeouts: 0 });
  });

  it("never opens more than maxSize connections under concurrent load", async () => {
    const url = await freshDatabase({ migrated: false });
    const database = new URL(url).pathname.slice(1);
    const p = createPool({ ...poolOptionsFromUrl(url), maxSize: 3, initSize: 1 });
    pools.push(p);
    let peak = 0;
    const load = Array.from({ length: 30 }, () => p.execute("SELECT SLEEP(0.01)"));
    const watch = (async () => {
      for (let i = 0; i < 5; i++) peak = Math.max(peak, await connectionsTo(database));
    })();
    await Promise.all([...load, watch]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(p.stats()).toMatchObject({ created: 3, size: 3, idle: 3 });
    expect(await connectionsTo(database)).toBe(3);
  });

  it("commits a transaction, and rolls back one whose callback throws", async () => {
    const url = await freshDatabase({ migrated: false });
    const p = createPool({ ...poolOptionsFromUrl(url), initSize: 0 });
    pools.push(p);
    await p.query("CREATE TABLE t (id INT PRIMARY KEY)");
    await p.transaction(async (conn) => {
      await conn.execute("INSERT INTO t VALUES (?)", [1]);
    });
    const err = new Error("abort");
    await expect(
      p.transaction(async (conn) => {
        await conn.execute("INSERT INTO t VALUES (?)", [2]);
        throw err;
      }),
    ).rejects.toBe(err);
    const [rows] = await p.query<RowDataPacket[]>("SELECT id FROM t ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual([1]);
    expect(p.stats()).toMatchObject({ destroyed: 0 });
  });

  it("closes a leased connection when it comes back after close()", async () => {
    const p = pool();
    const lease = await p.lease();
    const closing = p.close();
    await expect(p.lease()).rejects.toMatchObject({ code: "pool_closed" });
    await closing;
    await lease.conn.query("SELECT 1");
    const ended = gone(lease.conn);
    lease.release();
    await ended;
    expect(p.stats().size).toBe(0);
  });

  it("keeps no process alive with its timers: the reaper and the lease timer are unref'd", async () => {
    const port = await freePort();
    const script = `
      import { createPool } from ${JSON.stringify(`${import.meta.dir}/../../pool/index.ts`)};
      const pool = createPool({ host: "127.0.0.1", port: ${port}, user: "chat", reapInterval: 60_000, connectionTimeout: 60_000 });
      const err = await pool.lease().catch((e) => e);
      console.log(err.code, pool.stats().size);
    `;
    const started = performance.now();
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => child.kill(), 10_000);
    expect(await child.exited).toBe(0);
    clearTimeout(killer);
    expect((await new Response(child.stdout).text()).trim()).toBe("ECONNREFUSED 0");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("leaves no open handle after close(): a process using the pool exits by itself", async () => {
    const script = `
      import { createPool, poolOptionsFromUrl } from ${JSON.stringify(`${import.meta.dir}/../../pool/index.ts`)};
      const pool = createPool(poolOptionsFromUrl(process.env.URL + "?initSize=2&maxSize=4"));
      await Promise.all([pool.query("SELECT 1"), pool.query("SELECT 2"), pool.execute("SELECT ?", [3])]);
      await pool.close();
      console.log(JSON.stringify(pool.stats()));
    `;
    const started = performance.now();
    const child = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, URL: mysqlUrl() }, stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => child.kill(), 10_000);
    const code = await child.exited;
    clearTimeout(killer);
    const out = await new Response(child.stdout).text();
    expect(await new Response(child.stderr).text()).toBe("");
    expect(code).toBe(0);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(JSON.parse(out)).toMatchObject({ size: 0, idle: 0, inUse: 0 });
  });
});
