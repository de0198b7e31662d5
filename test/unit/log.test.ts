/** The two log formats: the same events, as key=value text or as one JSON object per line. */
import { describe, expect, it } from "bun:test";
import { createLogger, type LogFormat } from "../../src/log.ts";

const AT = new Date("2025-03-04T05:06:07.089Z");

function capture(format?: LogFormat, level: "debug" | "info" | "warn" | "error" = "info") {
  const lines: string[] = [];
  const log = createLogger(level, { format, write: (l) => lines.push(l), now: () => AT });
  return { log, lines };
}

describe("the text format", () => {
  it("is the default: time, level, event, then key=value fields, one line each", () => {
    const { log, lines } = capture();
    log.info("listen", { node: "n1", port: 6000, tls: false });
    log.warn("login_failed", { remote: "127.0.0.1", name: "alice" });
    expect(lines).toEqual(["2025-03-04T05:06:07.089Z INFO listen node=n1 port=6000 tls=false\n", "2025-03-04T05:06:07.089Z WARN login_failed remote=127.0.0.1 name=alice\n"]);
  });

  it("quotes a value with spaces, quotes, equals signs or newlines, so a client's text cannot start a line or forge a field", () => {
    const { log, lines } = capture();
    log.warn("login_failed", { remote: "10.0.0.1", name: 'x remote=10.9.9.9\n2025-01-01T00:00:00Z WARN login_failed remote=10.8.8.8 "' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      '2025-03-04T05:06:07.089Z WARN login_failed remote=10.0.0.1 name="x remote=10.9.9.9\\n2025-01-01T00:00:00Z WARN login_failed remote=10.8.8.8 \\""\n',
    );
  });

  it("writes an error as its code and message, an object as quoted JSON, and leaves out undefined fields", () => {
    const { log, lines } = capture();
    log.error("request_failed", { error: Object.assign(new Error("boom"), { code: "E_X" }), at: { a: 1 }, gone: undefined, n: 10n });
    expect(lines).toEqual(['2025-03-04T05:06:07.089Z ERROR request_failed error="E_X: boom" at="{\\"a\\":1}" n=10\n']);
  });

  it("drops events below its level", () => {
    const { log, lines } = capture("text", "warn");
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    expect(lines.map((l) => l.split(" ")[2]?.trim())).toEqual(["c", "d"]);
  });
});

describe("the json format", () => {
  it("writes one JSON object per line with time, level and event first, then the fields as JSON values", () => {
    const { log, lines } = capture("json");
    log.info("listen", { node: "n1", port: 6000, tls: false, gone: undefined });
    log.warn("login_failed", { remote: "127.0.0.1", name: 'a "quoted"\nname' });
    log.error("request_failed", { error: Object.assign(new Error("boom"), { code: "E_X" }), n: 10n });
    expect(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: "2025-03-04T05:06:07.089Z", level: "info", event: "listen", node: "n1", port: 6000, tls: false },
      { time: "2025-03-04T05:06:07.089Z", level: "warn", event: "login_failed", remote: "127.0.0.1", name: 'a "quoted"\nname' },
      { time: "2025-03-04T05:06:07.089Z", level: "error", event: "request_failed", error: "E_X: boom", n: "10" },
    ]);
    expect(Object.keys(JSON.parse(lines[1] as string))).toEqual(["time", "level", "event", "remote", "name"]);
  });

  it("never lets a field replace time, level or event", () => {
    const { log, lines } = capture("json");
    log.info("listen", { time: "then", level: "error", event: "other", port: 1 });
    expect(JSON.parse(lines[0] as string)).toEqual({ time: "2025-03-04T05:06:07.089Z", level: "info", event: "listen", port: 1 });
  });

  it("drops events below its level, as the text format does", () => {
    const { log, lines } = capture("json", "error");
    log.warn("a");
    log.error("b");
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["b"]);
  });
});
