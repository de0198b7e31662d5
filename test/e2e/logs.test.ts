/** Operator logs: the events that matter, one line each, and never a secret or a message text. */
import { describe, expect, it } from "bun:test";
import { freshDatabase } from "../support/db.ts";
import { spawnNode } from "../support/node.ts";

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
