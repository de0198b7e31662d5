import { afterEach, describe, expect, it } from "bun:test";
import { FakeDriver } from "../../pool/fake-connection.ts";
import {
  POOL_DEFAULTS,
  getPool,
  poolOptionsFromConfig,
  poolOptionsFromUrl,
  resetPool,
  resolvePoolOptions,
} from "../../pool/index.ts";

describe("pool options", () => {
  it("merges the documented defaults: utf8mb4 and no per-query stack capture unless told otherwise", () => {
    const { settings, connection } = resolvePoolOptions({ host: "db", user: "chat" });
    expect(settings).toMatchObject({
      initSize: 2,
      maxSize: 10,
      maxIdleTime: 60_000,
      connectionTimeout: 5_000,
      maxLifetime: 1_800_000,
      validationInterval: 5_000,
      validationTimeout: 3_000,
      reapInterval: 10_000,
    });
    expect(connection).toEqual({ charset: "utf8mb4", trace: false, host: "db", user: "chat" });
    expect(resolvePoolOptions({ charset: "latin1" }).connection.charset).toBe("latin1");
    expect(resolvePoolOptions({ trace: true }).connection.trace).toBe(true);
  });

  it("defaults the reap interval to the smaller of 10 s and maxIdleTime, and keeps one that is given", () => {
    expect(resolvePoolOptions({ maxIdleTime: 500 }).settings.reapInterval).toBe(500);
    expect(resolvePoolOptions({ maxIdleTime: 120_000 }).settings.reapInterval).toBe(10_000);
    expect(resolvePoolOptions({ maxIdleTime: 0 }).settings.reapInterval).toBe(10_000);
    expect(resolvePoolOptions({ maxIdleTime: 500, reapInterval: 2_000 }).settings.reapInterval).toBe(2_000);
    expect(resolvePoolOptions({ uri: "mysql://h/db?maxIdleTime=2" }).settings.reapInterval).toBe(2_000);
  });

  it("passes mysql2 connection options through and keeps pool settings out of them", () => {
    const { settings, connection } = resolvePoolOptions({ maxSize: 3, connectTimeout: 2_000, dateStrings: true });
    expect(settings.maxSize).toBe(3);
    expect(connection).toEqual({ charset: "utf8mb4", trace: false, connectTimeout: 2_000, dateStrings: true });
  });

  it("throws a TypeError on contradictory or impossible settings", () => {
    expect(() => resolvePoolOptions({ initSize: 5, maxSize: 4 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ initSize: 5, maxSize: 4 })).toThrow("initSize (5) is larger than maxSize (4)");
    expect(() => resolvePoolOptions({ maxSize: 0, initSize: 0 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ maxSize: 2.5 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ initSize: -1 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ connectionTimeout: 0 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ maxIdleTime: -5 })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ reapInterval: Infinity })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ maxLifetime: Number.NaN })).toThrow(TypeError);
  });

  it("accepts Infinity for durations that mean 'never'", () => {
    const { settings } = resolvePoolOptions({ connectionTimeout: Infinity, maxLifetime: Infinity, maxIdleTime: 0 });
    expect(settings.connectionTimeout).toBe(Infinity);
  });
});

describe("poolOptionsFromUrl", () => {
  it("reads the reference keys from the query and strips them from the uri", () => {
    const opts = poolOptionsFromUrl("mysql://u:p@h:3306/db?maxSize=20&initSize=2&maxIdleTime=60&connectionTimeout=100");
    expect(opts).toEqual({ uri: "mysql://u:p@h:3306/db", maxSize: 20, initSize: 2, maxIdleTime: 60_000, connectionTimeout: 100 });
  });

  it("reads a bare maxIdleTime as seconds and every other bare duration as milliseconds", () => {
    const opts = poolOptionsFromUrl("mysql://h/db?maxIdleTime=90&maxLifetime=600000&validationInterval=2500");
    expect(opts).toMatchObject({ maxIdleTime: 90_000, maxLifetime: 600_000, validationInterval: 2_500 });
  });

  it("accepts durations with a unit", () => {
    const opts = poolOptionsFromUrl("mysql://h/db?maxIdleTime=500ms&connectionTimeout=2s&maxLifetime=30m&reapInterval=0.5s");
    expect(opts).toMatchObject({ maxIdleTime: 500, connectionTimeout: 2_000, maxLifetime: 1_800_000, reapInterval: 500 });
  });

  it("leaves mysql2's own query parameters in the uri", () => {
    expect(poolOptionsFromUrl("mysql://h/db?charset=utf8mb4&maxSize=3").uri).toBe("mysql://h/db?charset=utf8mb4");
  });

  it("throws a TypeError naming the key on a bad value, a repeated key or a non-mysql URL", () => {
    expect(() => poolOptionsFromUrl("mysql://h/db?maxSize=ten")).toThrow("maxSize");
    expect(() => poolOptionsFromUrl("mysql://h/db?maxIdleTime=1y")).toThrow("maxIdleTime");
    expect(() => poolOptionsFromUrl("mysql://h/db?maxSize=1&maxSize=2")).toThrow(TypeError);
    expect(() => poolOptionsFromUrl("postgres://h/db")).toThrow(TypeError);
  });

  it("lets createPool take the URL as uri, with the pool keys still in it", () => {
    const { settings, connection } = resolvePoolOptions({ uri: "mysql://u:p@h/db?maxSize=7&initSize=1" });
    expect(settings).toMatchObject({ maxSize: 7, initSize: 1 });
    expect(connection.uri).toBe("mysql://u:p@h/db");
    expect(() => resolvePoolOptions({ uri: "mysql://h/db?maxSize=7", maxSize: 8 })).toThrow(TypeError);
  });
});

describe("poolOptionsFromConfig", () => {
  it("accepts the reference projects' config fields and units", () => {
    const opts = poolOptionsFromConfig({
      ip: "127.0.0.1",
      port: "3306",
      username: "root",
      password: "123456",
      dbname: "chat",
      initSize: "10",
      maxSize: 1024,
      maxIdleTime: 60,
      connectionTimeout: 100,
    });
    expect(opts).toEqual({
      host: "127.0.0.1",
      port: 3306,
      user: "root",
      password: "123456",
      database: "chat",
      initSize: 10,
      maxSize: 1024,
      maxIdleTime: 60_000,
      connectionTimeout: 100,
    });
  });

  it("throws a TypeError when a reference field and its mysql2 name disagree", () => {
    expect(() => poolOptionsFromConfig({ ip: "a", host: "b" })).toThrow(TypeError);
    expect(() => poolOptionsFromConfig({ port: "33o6" })).toThrow(TypeError);
  });
});

describe("getPool", () => {
  afterEach(() => resetPool());

  it("creates the process-wide pool on first use and returns the same one after", async () => {
    const driver = new FakeDriver();
    const pool = getPool({ initSize: 0, createConnection: driver.createConnection });
    expect(getPool()).toBe(pool);
    expect(driver.attempts).toBe(0); // lazy: nothing opens before a lease
    (await pool.lease()).release();
    expect(driver.attempts).toBe(1);
  });

  it("refuses options once the pool exists", () => {
    getPool({ createConnection: new FakeDriver().createConnection });
    expect(() => getPool({ maxSize: 3 })).toThrow(TypeError);
  });

  it("closes and forgets the pool on reset", async () => {
    const first = getPool({ createConnection: new FakeDriver().createConnection });
    await resetPool();
    expect(first.closed).toBe(true);
    expect(getPool({ createConnection: new FakeDriver().createConnection })).not.toBe(first);
  });

  it("falls back to CHAT_MYSQL_URL", () => {
    expect(POOL_DEFAULTS.maxSize).toBe(10);
    // A unit test runs without a database: any URL will do, nothing connects until a lease.
    const saved = process.env.CHAT_MYSQL_URL;
    process.env.CHAT_MYSQL_URL = "mysql://chat@127.0.0.1:1/chat";
    try {
      const pool = getPool();
      expect(pool.stats().size).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.CHAT_MYSQL_URL;
      else process.env.CHAT_MYSQL_URL = saved;
    }
  });
});

describe("host lists", () => {
  it("reads a URL with several hosts into one target per host, the rest of the URL alike in each", () => {
    const opts = poolOptionsFromUrl("mysql://u:p%2Fw@h1:3306,h2:3307,h3/chat?maxSize=20&failback=true&charset=utf8mb4");
    expect(opts).toMatchObject({ uri: "mysql://u:p%2Fw@h1:3306,h2:3307,h3/chat?charset=utf8mb4", maxSize: 20, failback: true });
    const { targets, settings } = resolvePoolOptions(opts);
    expect(settings.failback).toBe(true);
    expect(targets.map((t) => t.label)).toEqual(["h1:3306", "h2:3307", "h3:3306"]);
    expect(targets.map((t) => t.connection.uri)).toEqual([
      "mysql://u:p%2Fw@h1:3306/chat?charset=utf8mb4",
      "mysql://u:p%2Fw@h2:3307/chat?charset=utf8mb4",
      "mysql://u:p%2Fw@h3/chat?charset=utf8mb4",
    ]);
    // A host that does not answer is passed over in 2 s, not mysql2's 10.
    expect(targets.every((t) => t.connection.connectTimeout === 2_000)).toBe(true);
  });

  it("keeps a single host as it was: one target, mysql2's own connect timeout", () => {
    const { targets } = resolvePoolOptions({ uri: "mysql://u:p@db:3306/chat" });
    expect(targets).toEqual([{ label: "db:3306", connection: expect.objectContaining({ uri: "mysql://u:p@db:3306/chat" }) }]);
    expect(targets[0]!.connection.connectTimeout).toBeUndefined();
    expect(resolvePoolOptions({ host: "10.0.0.20" }).targets[0]!.label).toBe("10.0.0.20:3306");
  });

  it("takes hosts in code, each with the connection options and its own host and port", () => {
    const { targets, connection } = resolvePoolOptions({ hosts: ["10.0.0.21", "10.0.0.22:3307", { host: "::1", port: 3308 }], port: 3310, user: "chat", connectTimeout: 500 });
    expect(connection).not.toHaveProperty("hosts");
    expect(targets.map((t) => [t.label, t.connection.host, t.connection.port, t.connection.connectTimeout])).toEqual([
      ["10.0.0.21:3310", "10.0.0.21", 3310, 500],
      ["10.0.0.22:3307", "10.0.0.22", 3307, 500],
      ["[::1]:3308", "::1", 3308, 500],
    ]);
  });

  it("reads the seed-style config with ip as a list, or as a list of one object per host", () => {
    expect(poolOptionsFromConfig({ ip: ["10.0.0.21", "10.0.0.22"], port: "3306", username: "chat", dbname: "chat", failback: "false" })).toEqual({
      hosts: ["10.0.0.21", "10.0.0.22"],
      port: 3306,
      user: "chat",
      database: "chat",
      failback: false,
    });
    const list = poolOptionsFromConfig([
      { ip: "10.0.0.21", port: 3306, username: "chat", password: "pw", dbname: "chat", maxSize: 20 },
      { ip: "10.0.0.22", port: "3307" },
      { ip: "10.0.0.23", username: "chat" },
    ]);
    expect(list).toEqual({
      user: "chat",
      password: "pw",
      database: "chat",
      maxSize: 20,
      hosts: [
        { host: "10.0.0.21", port: 3306 },
        { host: "10.0.0.22", port: 3307 },
        { host: "10.0.0.23", port: undefined },
      ],
    });
    expect(resolvePoolOptions(list).targets.map((t) => t.label)).toEqual(["10.0.0.21:3306", "10.0.0.22:3307", "10.0.0.23:3306"]);
  });

  it("throws a TypeError on a malformed list", () => {
    expect(() => poolOptionsFromUrl("mysql://u:p@h1,,h3/chat")).toThrow("empty entry");
    expect(() => poolOptionsFromUrl("mysql://u:p@h1,h2:99999/chat")).toThrow("host 2");
    expect(() => resolvePoolOptions({ uri: "mysql://u:p@h1,h1/chat" })).toThrow("h1:3306 twice");
    expect(() => resolvePoolOptions({ uri: "mysql://u:p@h1/chat", hosts: ["h2"] })).toThrow("not both");
    expect(() => resolvePoolOptions({ hosts: [] })).toThrow(TypeError);
    expect(() => resolvePoolOptions({ hosts: ["h1:port"] })).toThrow(TypeError);
    expect(() => poolOptionsFromConfig([{ ip: "a", username: "x" }, { ip: "b", username: "y" }])).toThrow("username differently".replace("username", "user"));
    expect(() => poolOptionsFromConfig([{ port: 3306 }])).toThrow("no ip");
    expect(() => poolOptionsFromUrl("mysql://h/db?failback=maybe")).toThrow("failback");
  });
});
