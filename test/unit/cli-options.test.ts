/** The option tables behind `chat server`/`client`/`migrate`: parsing, precedence, config files, --help. No services. */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { POOL_DEFAULTS } from "../../pool/index.ts";
import { CLIENT_OPTIONS } from "../../src/cli/client-command.ts";
import { mysqlUrlOf, mysqlUrlProblem, withPassword } from "../../src/cli/mysql.ts";
import { derived, given, readArgs, resolveOptions, type Table, UsageError, usage } from "../../src/cli/options.ts";
import { redisOf, SERVER_OPTIONS } from "../../src/cli/server-command.ts";
import { duration, file, formatDuration, int, oneOf, secretFile, text, toggle } from "../../src/cli/value-types.ts";
import { DEFAULTS as CLIENT_DEFAULTS } from "../../src/client/options.ts";
import { DEFAULTS } from "../../src/server/server.ts";

const dir = mkdtempSync(`${tmpdir()}/chat-cli-options-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function json(value: unknown): string {
  const path = `${dir}/config-${++files}.json`;
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const TABLE = {
  port: { type: int(0, 65535), env: "T_PORT", help: "port", default: 7000 },
  adminPort: { type: int(0, 65535), env: "T_ADMIN_PORT", help: "admin", default: derived("port + 1", (v) => (v.port as number) + 1) },
  name: { type: text("NAME"), env: "T_NAME", help: "name" },
  idle: { flag: "idle-timeout", type: duration("s", 1000), help: "idle", default: 90_000 },
  level: { type: oneOf(["low", "high"] as const, "LEVEL"), help: "level", default: "low" },
  verbose: { type: toggle, env: "T_VERBOSE", help: "verbose" },
  config: { type: file, env: "T_CONFIG", help: "config file" },
} satisfies Table;

function parse(argv: string[], env: Record<string, string> = {}, also: Table = {}) {
  return resolveOptions(TABLE, readArgs(TABLE, argv).flags, env, also);
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error("expected a UsageError");
}

describe("option tables", () => {
  it("takes the flag first, then its environment variable, then the config file, then the default", () => {
    const config = json({ port: 7300, name: "from-config" });
    expect(parse(["--port", "7100", "--config", config], { T_PORT: "7200" }).values.port).toBe(7100);
    expect(parse(["--config", config], { T_PORT: "7200" }).values.port).toBe(7200);
    expect(parse(["--config", config]).values.port).toBe(7300);
    expect(parse([]).values.port).toBe(7000);
    const p = parse([], { T_CONFIG: config, T_NAME: "from-env" });
    expect(p.values).toMatchObject({ port: 7300, name: "from-env" });
    expect(p.source.port).toEqual({ from: "config", file: config });
    expect(given(p, "port")).toBe(true);
    expect(given(p, "level")).toBe(false);
  });

  it("treats an empty environment variable as unset", () => {
    expect(parse([], { T_PORT: "" }).values.port).toBe(7000);
  });

  it("computes a derived default from the settled values, and an explicit value overrides it", () => {
    expect(parse(["--port", "8000"]).values.adminPort).toBe(8001);
    expect(parse([], { T_PORT: "9000" }).values.adminPort).toBe(9001);
    expect(parse(["--port", "8000", "--admin-port", "0"]).values.adminPort).toBe(0);
  });

  it("names the option and where a bad value came from, without the whole usage", () => {
    const flag = usageError(() => parse(["--port", "x"]));
    expect(flag.message).toBe('--port must be a whole number from 0 to 65535, got "x"');
    expect(flag.withUsage).toBe(false);
    expect(usageError(() => parse([], { T_PORT: "70000" })).message).toStartWith("--port (from T_PORT) must be a whole number");
    const config = json({ "idle-timeout": "soon" });
    expect(usageError(() => parse(["--config", config])).message).toStartWith(`--idle-timeout (from "idle-timeout" in ${config}) must be a duration`);
    expect(usageError(() => parse(["--level", "mid"])).message).toBe('--level must be low or high, got "mid"');
  });

  it("answers an unknown flag or a stray argument with the whole usage", () => {
    const e = usageError(() => parse(["--bogus"]));
    expect(e.message).toContain("--bogus");
    expect(e.withUsage).toBe(true);
    expect(usageError(() => parse(["stray"])).withUsage).toBe(true);
    expect(readArgs(TABLE, ["--help"]).help).toBe(true);
    expect(readArgs(TABLE, ["-h"]).help).toBe(true);
  });

  it("refuses an unknown key in a config file, and ignores the keys of another command's table in a shared one", () => {
    const config = json({ port: 7400, "rate-limit": 5 });
    expect(usageError(() => parse(["--config", config])).message).toContain('unknown option "rate-limit"');
    expect(parse(["--config", config], {}, SERVER_OPTIONS).values.port).toBe(7400);
    expect(usageError(() => parse(["--config", json([1, 2])])).message).toContain("expected a JSON object");
    expect(usageError(() => parse(["--config", json({ config: "other.json" })])).message).toContain("cannot name another config file");
    writeFileSync(`${dir}/broken.json`, "{ port: ");
    expect(usageError(() => parse(["--config", `${dir}/broken.json`])).message).toContain("not valid JSON");
  });

  it("reads a switch as a bare flag, and as true/false in the environment and the config file", () => {
    expect(parse(["--verbose"]).values.verbose).toBe(true);
    expect(parse([]).values.verbose).toBeUndefined();
    expect(parse([], { T_VERBOSE: "no" }).values.verbose).toBe(false);
    expect(parse([], { T_VERBOSE: "1" }).values.verbose).toBe(true);
    expect(parse(["--config", json({ verbose: true })]).values.verbose).toBe(true);
    expect(usageError(() => parse([], { T_VERBOSE: "maybe" })).message).toContain("must be true or false");
  });

  it("reads durations with a unit or as a bare number in the option's own unit", () => {
    expect(parse(["--idle-timeout", "30"]).values.idle).toBe(30_000);
    expect(parse(["--idle-timeout", "1500ms"]).values.idle).toBe(1_500);
    expect(parse(["--idle-timeout", "2m"]).values.idle).toBe(120_000);
    expect(parse(["--config", json({ "idle-timeout": 45 })]).values.idle).toBe(45_000);
    expect(usageError(() => parse(["--idle-timeout", "10ms"])).message).toContain("must be at least 1s");
    expect(duration("ms").parse("250")).toBe(250);
    expect(duration("ms").parse("1.5s")).toBe(1_500);
    expect(formatDuration(DEFAULTS.tokenTtlMs)).toBe(`${DEFAULTS.tokenTtlMs / 86_400_000}d`);
    expect(formatDuration(1_500)).toBe("1500ms");
  });

  it("requires a required option, saying where else it may come from", () => {
    const table = { mysql: { type: text("URL"), env: "T_MYSQL", help: "db", required: true }, config: TABLE.config } satisfies Table;
    expect(usageError(() => resolveOptions(table, {}, {})).message).toBe('--mysql is required (or T_MYSQL, or "mysql" in --config)');
    expect(resolveOptions(table, {}, { T_MYSQL: "x" }).values.mysql).toBe("x");
  });

  it("names every option of the server by the server's own option names, with the values in its units", () => {
    const { values } = resolveOptions(
      SERVER_OPTIONS,
      readArgs(SERVER_OPTIONS, ["--mysql", "mysql://u:p@h/db", "--idle-timeout", "30", "--token-ttl", "1h", "--max-conns-per-ip", "3"]).flags,
      {},
    );
    expect(values).toMatchObject({
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      adminPort: DEFAULTS.port + 1,
      idleTimeoutMs: 30_000,
      tokenTtlMs: 3_600_000,
      maxConnsPerAddress: 3,
      orderWindowMs: DEFAULTS.orderWindowMs,
      maxSize: POOL_DEFAULTS.maxSize,
    });
    expect(values.mysql.uri).toBe("mysql://u:p@h/db");
  });

  it("puts the web port at the chat port + 80, off with 0, and leaves it to the server (a free one) when the chat port is 0", () => {
    const server = (argv: string[], env: Record<string, string> = {}) =>
      resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--mysql", "mysql://u:p@h/db", ...argv]).flags, env).values;
    expect(server([]).webPort).toBe(DEFAULTS.port + 80);
    expect(server(["--port", "7000"]).webPort).toBe(7080);
    expect(server(["--port", "0"]).webPort).toBeUndefined();
    expect(server(["--web-port", "0"]).webPort).toBe(0);
    expect(server([], { CHAT_WEB_PORT: "9443" }).webPort).toBe(9443);
    expect(usageError(() => server(["--port", "65500"])).message).toContain("--web-port is needed with --port 65500");
    expect(server(["--host", "10.0.0.5"]).webHost).toBe("10.0.0.5");
  });

  it("takes web origins as a comma list (or a JSON list in a config file) of scheme, host and port, and refuses anything else", () => {
    const server = (argv: string[]) => resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--mysql", "mysql://u:p@h/db", ...argv]).flags, {}).values;
    expect(server([]).webOrigins).toEqual([]);
    expect(server(["--web-origin", "https://Chat.Example.com, http://127.0.0.1:8080"]).webOrigins).toEqual(["https://chat.example.com", "http://127.0.0.1:8080"]);
    const config = json({ "web-origin": ["https://a.example", "https://b.example:8443"] });
    expect(server(["--config", config]).webOrigins).toEqual(["https://a.example", "https://b.example:8443"]);
    for (const bad of ["evil.example", "https://a.example/path", "ftp://a.example"])
      expect(usageError(() => server(["--web-origin", bad])).message).toContain(`"${bad}" is not one`);
  });

  it("shows each option with its placeholder, its default as the DEFAULTS objects hold it, and its environment variable", () => {
    const help = usage("chat server [options]", "Runs a chat node.", SERVER_OPTIONS);
    expect(help).toMatch(new RegExp(`--port N +chat port.*\\(default ${DEFAULTS.port}\\) \\[CHAT_PORT\\]`));
    expect(help).toContain(`(default ${DEFAULTS.rateLimit}) [CHAT_RATE_LIMIT]`);
    expect(help).toContain(`(default ${DEFAULTS.maxFrame}) [CHAT_MAX_FRAME]`);
    expect(help).toContain(`(default ${DEFAULTS.hash.memoryCost}) [CHAT_HASH_MEMORY]`);
    expect(help).toContain(`(default ${formatDuration(DEFAULTS.idleTimeoutMs)}) [CHAT_IDLE_TIMEOUT]`);
    expect(help).toContain(`(default ${POOL_DEFAULTS.maxSize}) [CHAT_POOL_MAX_SIZE]`);
    expect(help).toContain("SECS and MS also take a unit");
    const client = usage("chat client [options]", "The console client.", CLIENT_OPTIONS);
    expect(client).toContain(`(default ${CLIENT_DEFAULTS.port}) [CHAT_CLIENT_PORT]`);
    expect(client).toMatch(/--tls +connect with TLS\n/);
  });
});

describe("the database options", () => {
  const PROBLEMS: [string, RegExp][] = [
    ["mysql://chat:se/cret@db:3306/chat", /holds "\/", which ends that part of a URL; percent-encode it.*--mysql-password-file/],
    ["mysql://chat:se#cret@db/chat", /holds "#"/],
    ["mysql://chat:12#34@db/chat", /holds "#"/],
    ["mysql://chat:12/34@db/chat", /holds "\/"/],
    ["mysql://chat:a?b/c@db/chat", /holds "\?" and "\/", which end that part/],
    ["mysql://chat:50%off@db/chat", /"%" not followed by two hex digits/],
    ["http://chat:x@db/chat", /must be a mysql:\/\/ URL, not http:\/\//],
    ["db:3306", /must be a URL such as mysql:\/\//],
    ["mysql://[db/chat", /is not a valid URL/],
  ];
  for (const [url, problem] of PROBLEMS)
    it(`explains what is wrong with ${url} without repeating the password`, () => {
      const message = mysqlUrlProblem(url);
      expect(message).toMatch(problem);
      const password = /^[a-z]+:\/\/[^:]*:(.*)@/.exec(url)?.[1];
      if (password) expect(message).not.toContain(password);
    });

  it("accepts the URLs that parse as written: an encoded password, a bare @ or : in it, pool settings in the query", () => {
    for (const url of [
      `mysql://chat:${encodeURIComponent("p/a#s?s@%w:rd")}@db:3306/chat`,
      "mysql://chat:p@ss:word@db/chat",
      "mariadb://chat@db/chat?maxSize=20&maxIdleTime=60",
      "mysql://db/chat",
    ])
      expect(mysqlUrlProblem(url)).toBeUndefined();
  });

  it("puts a password into the URL encoded so that it decodes to itself, or into the config object as it is", () => {
    const password = "p/a#s?s@%w:rd 1";
    const uri = withPassword({ uri: "mysql://chat:old@db:3306/chat", maxSize: 3 }, password).uri as string;
    expect(mysqlUrlProblem(uri)).toBeUndefined();
    const u = new URL(uri);
    expect([u.username, decodeURIComponent(u.password), u.host, u.pathname]).toEqual(["chat", password, "db:3306", "/chat"]);
    expect(withPassword({ host: "db", user: "chat", password: "old" }, password)).toEqual({ host: "db", user: "chat", password });
    expect(decodeURIComponent(new URL(mysqlUrlOf({ host: "db", user: "chat", password })).password)).toBe(password);
    expect(withPassword({ uri: "mysql://chat:old@db/chat" }, undefined).uri).toBe("mysql://chat:old@db/chat");
  });

  it("reads a password file without its trailing newline, and refuses an empty or a many-line one", () => {
    const path = `${dir}/password`;
    writeFileSync(path, "s3cret/#\n");
    expect(secretFile.parse(path)).toBe("s3cret/#");
    writeFileSync(path, "s3cret\r\n");
    expect(secretFile.parse(path)).toBe("s3cret");
    writeFileSync(path, "\n");
    expect(() => secretFile.parse(path)).toThrow(/names an empty file/);
    writeFileSync(path, "one\ntwo\n");
    expect(() => secretFile.parse(path)).toThrow(/more than one line/);
    expect(() => secretFile.parse(`${dir}/absent`)).toThrow(/cannot be read: .*absent \(ENOENT\)/);
  });

  it("takes the config file's mysql as an object with the references' keys, and names the option when it is neither URL nor object", () => {
    const config = json({ mysql: { ip: "db", port: 3307, username: "chat", password: "a/b", dbname: "c", maxSize: 4 } });
    const { values } = resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--config", config]).flags, {});
    expect(values.mysql).toEqual({ host: "db", port: 3307, user: "chat", password: "a/b", database: "c", maxSize: 4 });
    const bad = json({ mysql: 5 });
    expect(usageError(() => resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--config", bad]).flags, {})).message).toBe(
      `--mysql (from "mysql" in ${bad}) must be a mysql:// URL, an object (ip, port, username, password, dbname, ...) or a list of such objects, one per host`,
    );
  });

  it("takes a host list in the URL or the config file, and --mysql-failback", () => {
    const listUrl = "mysql://chat:pw@10.0.0.21:3306,10.0.0.22:3306,10.0.0.23:3306/chat?maxSize=20";
    expect(mysqlUrlProblem(listUrl)).toBeUndefined();
    expect(mysqlUrlProblem("mysql://chat:pw@h1,h2:70000/chat")).toMatch(/^\(host 2 of its list, h2:70000\) /);
    const { values } = resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--mysql", listUrl, "--mysql-failback"]).flags, {});
    expect(values.mysql).toEqual({ uri: "mysql://chat:pw@10.0.0.21:3306,10.0.0.22:3306,10.0.0.23:3306/chat", maxSize: 20 });
    expect(values.failback).toBe(true);
    const uri = withPassword(values.mysql, "n/ew").uri as string;
    expect(uri).toBe("mysql://chat:n%2Few@10.0.0.21:3306,10.0.0.22:3306,10.0.0.23:3306/chat");
    expect(resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--mysql", listUrl]).flags, {}).values.failback).toBe(false);

    const config = json({ mysql: [{ ip: "10.0.0.21", port: 3306, username: "chat", password: "pw", dbname: "chat" }, { ip: "10.0.0.22" }] });
    const fromFile = resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--config", config]).flags, {}).values.mysql;
    expect(fromFile).toEqual({ user: "chat", password: "pw", database: "chat", hosts: [{ host: "10.0.0.21", port: 3306 }, { host: "10.0.0.22", port: undefined }] });
    expect(mysqlUrlOf(fromFile)).toBe("mysql://chat:pw@10.0.0.21:3306,10.0.0.22:3306/chat");
  });
});

describe("the Redis options", () => {
  const server = (argv: string[], env: Record<string, string> = {}) => resolveOptions(SERVER_OPTIONS, readArgs(SERVER_OPTIONS, ["--mysql", "mysql://u:p@h/db", ...argv]).flags, env);

  it("reads the sentinels as host:port pairs from the flag, the environment or a config file's list", () => {
    const three = [{ host: "10.0.0.21", port: 26379 }, { host: "10.0.0.22", port: 26379 }, { host: "::1", port: 26380 }];
    expect(server(["--redis-sentinels", "10.0.0.21:26379, 10.0.0.22:26379,[::1]:26380"]).values.redisSentinels).toEqual(three);
    expect(server([], { CHAT_REDIS_SENTINELS: "10.0.0.21:26379,10.0.0.22:26379,[::1]:26380" }).values.redisSentinels).toEqual(three);
    const config = json({ "redis-sentinels": ["10.0.0.21:26379", "10.0.0.22:26379", "[::1]:26380"], "redis-master": "main" });
    const fromFile = server(["--config", config]);
    expect(fromFile.values.redisSentinels).toEqual(three);
    expect(redisOf(fromFile)).toEqual({ redisSentinel: { sentinels: three, master: "main", password: undefined } });
  });

  it("refuses a sentinel list with a missing port, a bad port, a repeated sentinel or nothing in it, naming the option", () => {
    expect(usageError(() => server(["--redis-sentinels", "10.0.0.21"])).message).toBe(
      '--redis-sentinels must be a list of host:port like 10.0.0.21:26379,10.0.0.22:26379,10.0.0.23:26379, got "10.0.0.21"',
    );
    expect(usageError(() => server(["--redis-sentinels", "a:26379,b:70000"])).message).toContain('got "b:70000"');
    expect(usageError(() => server(["--redis-sentinels", "a:26379,a:26379"])).message).toBe("--redis-sentinels names a:26379 twice");
    expect(usageError(() => server([], { CHAT_REDIS_SENTINELS: " , " })).message).toBe(
      "--redis-sentinels (from CHAT_REDIS_SENTINELS) must name at least one host:port, like 10.0.0.21:26379,10.0.0.22:26379,10.0.0.23:26379",
    );
  });

  it("takes Redis from the sentinels or from a URL, never both, and the primary's name only with sentinels", () => {
    expect(redisOf(server([]))).toEqual({ redisUrl: undefined });
    expect(redisOf(server(["--redis", "redis://r:6379"]))).toEqual({ redisUrl: "redis://r:6379" });
    expect(redisOf(server(["--redis-sentinels", "s:26379"])).redisSentinel?.master).toBe("chat");
    expect(usageError(() => redisOf(server(["--redis", "redis://r:6379", "--redis-sentinels", "s:26379"]))).message).toBe(
      "--redis and --redis-sentinels both name Redis: give one of them",
    );
    expect(usageError(() => redisOf(server(["--redis-master", "main"]))).message).toBe("--redis-master goes with --redis-sentinels");
  });

  it("puts the password file's password into the Redis URL encoded, or hands it to the sentinels' primary as it is", () => {
    const path = `${dir}/redis-password`;
    writeFileSync(path, "p@ss/word\n");
    const url = redisOf(server(["--redis", "redis://:old@r:6379", "--redis-password-file", path])).redisUrl!;
    expect(decodeURIComponent(new URL(url).password)).toBe("p@ss/word");
    expect(new URL(url).host).toBe("r:6379");
    expect(redisOf(server(["--redis-sentinels", "s:26379", "--redis-password-file", path])).redisSentinel?.password).toBe("p@ss/word");
  });

  it("shows the sentinel options in --help with the primary's default name and their environment variables", () => {
    const help = usage("chat server [options]", "Runs a chat node.", SERVER_OPTIONS);
    expect(help).toMatch(/--redis-sentinels HOST:PORT,\.\.\. +Redis Sentinel .*\[CHAT_REDIS_SENTINELS\]/);
    expect(help).toMatch(/--redis-master NAME +.*\(default chat\) \[CHAT_REDIS_MASTER\]/);
    expect(help).toMatch(/--redis-password-file FILE +.*\[CHAT_REDIS_PASSWORD_FILE\]/);
  });
});
