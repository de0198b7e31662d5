/** Operator logs: the events that matter, one line each, and never a secret or a message text. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { waitUntil as until } from "../support/wait.ts";

describe("the server log", () => {
  it("records start, listen and shutdown, and no password, token or message text even at debug level", async () => {
    const node = await spawnNode({ node: "log1", mysqlUrl: await freshDatabase(), args: ["--log-level", "debug"] });
    const a = await node.connect();
    const b = await node.connect();
    await a.ok({ type: "register", name: "log_a", password: "SECRET-PASSWORD-a" });
    await b.ok({ type: "register", name: "log_b", password: "SECRET-PASSWORD-b" });
    const la = await a.ok({ type: "login", name: "log_a", password: "SECRET-PASSWORD-a" });
    const lb = await b.ok({ type: "login", name: "log_b", password: "SECRET-PASSWORD-b" });
    await a.ok({ type: "add_friend", user: lb.user.id });
    await a.ok({ type: "send", to: lb.user.id, text: "MESSAGE-TEXT-MARKER" });
    await b.req({ type: "login", name: "log_b", password: "WRONG-PASSWORD-MARKER" });
    a.write("not json MALFORMED-MARKER\n");
    await a.ok({ type: "ping" });
    expect(await node.kill("SIGTERM")).toBe(0);

    const log = node.log();
    for (const secret of ["SECRET-PASSWORD", "WRONG-PASSWORD-MARKER", "MESSAGE-TEXT-MARKER", "MALFORMED-MARKER", la.token, lb.token, ":chat@"])
      expect(log).not.toContain(secret);
    for (const event of ["INFO start", "INFO listen", "INFO admin_listen", "INFO ready", "INFO signal", "INFO shutdown", "INFO stopped"]) expect(log).toContain(event);
    // One event per line: time, level, event, fields.
    for (const line of log.trim().split("\n")) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO|WARN|ERROR) [a-z_]+( |$)/);
  });
});

/** The lines of `log` for `event` (text format), e.g. `lines(log, "login_failed")`. */
function lines(log: string, event: string): string[] {
  return log.split("\n").filter((l) => l.split(" ")[2] === event);
}

describe("the log of what clients do", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    // A low request rate, so that one burst of pings runs into it.
    node = await spawnNode({ node: "log2", mysqlUrl: await freshDatabase(), args: ["--rate-limit", "20", "--rate-burst", "10"] });
  });
  afterAll(async () => {
    await node?.kill();
  });

  it("has one line per login, success or failure, naming the remote address first and the user or the name or id tried", async () => {
    const w = await node.connect();
    const id = (await w.ok({ type: "register", name: "log_who", password: "SECRET-PW-who" })).user.id;
    expect(await w.req({ type: "login", name: "log_who", password: "WRONG-PW-1" })).toMatchObject({ code: "bad_credentials" });
    expect(await w.req({ type: "login", user: id, password: "WRONG-PW-2" })).toMatchObject({ code: "bad_credentials" });
    expect(await w.req({ type: "login", name: "log_nobody", password: "WRONG-PW-3" })).toMatchObject({ code: "bad_credentials" });
    expect(await w.req({ type: "login", token: "NOT-A-TOKEN-MARKER" })).toMatchObject({ code: "bad_credentials" });
    const ok = await w.ok({ type: "login", name: "log_who", password: "SECRET-PW-who" });
    const again = await node.connect();
    await again.ok({ type: "login", token: ok.token });
    await until("the login lines", () => (lines(node.log(), "login_ok").length >= 2 ? true : undefined));

    const log = node.log();
    const failed = lines(log, "login_failed");
    expect(failed).toHaveLength(4);
    for (const l of failed) expect(l).toMatch(/^\S+ WARN login_failed remote=127\.0\.0\.1 conn=\d+ via=(password|token)( |$)/);
    expect(failed[0]).toMatch(new RegExp(` via=password user=${id} name=log_who$`));
    expect(failed[1]).toMatch(new RegExp(` via=password user=${id}$`));
    expect(failed[2]).toMatch(/ via=password name=log_nobody$/);
    expect(failed[3]).toMatch(/ via=token$/);
    const succeeded = lines(log, "login_ok");
    expect(succeeded).toHaveLength(2);
    expect(succeeded[0]).toMatch(new RegExp(`^\\S+ INFO login_ok remote=127\\.0\\.0\\.1 conn=\\d+ via=password user=${id} name=log_who$`));
    expect(succeeded[1]).toMatch(new RegExp(`^\\S+ INFO login_ok remote=127\\.0\\.0\\.1 conn=\\d+ via=token user=${id} name=log_who$`));
    for (const secret of ["SECRET-PW", "WRONG-PW", "NOT-A-TOKEN-MARKER", ok.token]) expect(log).not.toContain(secret);
    w.close();
    again.close();
  });

  it("logs a connection's bad frames once when they start, then as one count when it closes, without what was sent", async () => {
    const w = await node.connect();
    await w.ok({ type: "register", name: "log_bad", password: "SECRET-PW-bad" });
    const id = (await w.ok({ type: "login", name: "log_bad", password: "SECRET-PW-bad" })).user.id;
    // Fewer than the rate burst, so none of them is rate-limited.
    w.write("not json BAD-FRAME-MARKER\n");
    w.write('{"type":"UNKNOWN-TYPE-MARKER"}\n');
    w.write('{"type":"send","to":1,"text":""}\n');
    w.write("[1,2]\n");
    await w.ok({ type: "ping" });
    const mine = (event: string) => lines(node.log(), event).filter((l) => l.includes(` user=${id}`));
    expect(mine("bad_frame")).toEqual([expect.stringMatching(new RegExp(`^\\S+ WARN bad_frame remote=127\\.0\\.0\\.1 conn=\\d+ user=${id} code=bad_frame$`))]);
    w.close();
    const summary = await until("the summary at close", () => mine("bad_frame_repeats")[0]);
    expect(summary).toMatch(new RegExp(`^\\S+ WARN bad_frame_repeats remote=127\\.0\\.0\\.1 conn=\\d+ user=${id} count=3 seconds=[\\d.]+ over=true$`));
    expect(mine("bad_frame")).toHaveLength(1);
    for (const sent of ["BAD-FRAME-MARKER", "UNKNOWN-TYPE-MARKER", "SECRET-PW"]) expect(node.log()).not.toContain(sent);
  });

  it("logs a rate-limit cut once per burst, then how many requests it cut when the connection closes", async () => {
    const w = await node.connect();
    await w.ok({ type: "register", name: "log_fast", password: "SECRET-PW-fast" });
    const id = (await w.ok({ type: "login", name: "log_fast", password: "SECRET-PW-fast" })).user.id;
    const before = w.frames.length;
    w.write(Array.from({ length: 200 }, (_, i) => JSON.stringify({ type: "ping", id: `p${i}` }) + "\n").join(""));
    await w.next((f) => f.re === "p199", 10_000, before);
    const limited = w.frames.slice(before).filter((f) => f.code === "rate_limited").length;
    expect(limited).toBeGreaterThan(100);
    const mine = (event: string) => lines(node.log(), event).filter((l) => l.includes(` user=${id}`));
    expect(mine("rate_limited")).toEqual([expect.stringMatching(new RegExp(`^\\S+ WARN rate_limited remote=127\\.0\\.0\\.1 conn=\\d+ user=${id} type=ping$`))]);
    w.close();
    const summary = await until("the summary at close", () => mine("rate_limited_repeats")[0]);
    expect(summary).toContain(` count=${limited - 1} `);
    expect(summary).toMatch(/ over=true$/);
  });
});

describe("the json log format", () => {
  it("writes every event as one JSON object with time, level and event, login lines included", async () => {
    const node = await spawnNode({ node: "log3", mysqlUrl: await freshDatabase(), args: ["--log-format", "json"], readyLine: '"event":"ready"' });
    const w = await node.connect();
    await w.ok({ type: "register", name: "log_json", password: "SECRET-PW-json" });
    await w.req({ type: "login", name: "log_json", password: "WRONG-PW-json" });
    const ok = await w.ok({ type: "login", name: "log_json", password: "SECRET-PW-json" });
    expect(await node.kill("SIGTERM")).toBe(0);

    const log = node.log();
    const events = log.trim().split("\n").map((l) => JSON.parse(l));
    for (const e of events) {
      expect(Object.keys(e).slice(0, 3)).toEqual(["time", "level", "event"]);
      expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    }
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(["start", "listen", "ready", "login_failed", "login_ok", "signal", "stopped"]));
    expect(events.find((e) => e.event === "login_failed")).toMatchObject({ level: "warn", remote: "127.0.0.1", via: "password", name: "log_json", user: ok.user.id });
    expect(events.find((e) => e.event === "login_ok")).toMatchObject({ level: "info", remote: "127.0.0.1", via: "password", user: ok.user.id });
    for (const secret of ["SECRET-PW", "WRONG-PW", ok.token]) expect(log).not.toContain(secret);
  });
});
