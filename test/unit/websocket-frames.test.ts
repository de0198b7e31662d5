/**
 * The WebSocket transport's parts without a network: a message as a frame,
 * the Origin rule, and a Conn over a message socket (one message per frame,
 * the output limit counting what the socket still holds).
 */
import { describe, expect, test } from "bun:test";
import { BadFrame, TOO_LARGE } from "../../src/protocol/frame-reader.ts";
import { frameOfMessage } from "../../src/protocol/message-frame.ts";
import type { MessageSocket } from "../../src/server/conn.ts";
import { originAllowed } from "../../src/server/web-listener.ts";
import { offlineConn } from "../support/offline-conn.ts";

describe("a WebSocket message as a frame", () => {
  test("is the message's text, less one newline at the end", () => {
    expect(frameOfMessage('{"type":"ping"}', 100)).toBe('{"type":"ping"}');
    expect(frameOfMessage('{"type":"ping"}\n', 100)).toBe('{"type":"ping"}');
  });

  test("with a newline inside, or binary, it is no frame: bad_frame with a reason", () => {
    const two = frameOfMessage('{"type":"ping"}\n{"type":"ping"}', 100);
    expect(two).toBeInstanceOf(BadFrame);
    expect(frameOfMessage('{"type":"ping"}\n\n', 100)).toBeInstanceOf(BadFrame);
    const binary = frameOfMessage(new Uint8Array([123, 125]), 100);
    expect((binary as BadFrame).reason).toContain("binary");
  });

  test("empty and white-space messages are nothing to answer", () => {
    for (const m of ["", "\n", "   ", "\t \r"]) expect(frameOfMessage(m, 100)).toBeUndefined();
  });

  test("its limit is on UTF-8 bytes plus one, as if it ended in a newline", () => {
    expect(frameOfMessage("x".repeat(99), 100)).toBe("x".repeat(99));
    expect(frameOfMessage("x".repeat(100), 100)).toBe(TOO_LARGE);
    // 50 two-byte characters are 100 bytes: one too many for a 100-byte limit.
    expect(frameOfMessage("é".repeat(50), 100)).toBe(TOO_LARGE);
    expect(frameOfMessage("é".repeat(49), 100)).toBe("é".repeat(49));
    expect(frameOfMessage(`${"x".repeat(99)}\n`, 100)).toBe("x".repeat(99));
  });
});

describe("Origin", () => {
  const none = new Set<string>();
  test("no Origin header is accepted", () => {
    expect(originAllowed(null, "chat.example.com", none)).toBe(true);
  });
  test("the page's own origin is accepted, whatever its scheme's case", () => {
    expect(originAllowed("https://chat.example.com", "chat.example.com", none)).toBe(true);
    expect(originAllowed("HTTP://127.0.0.1:6080", "127.0.0.1:6080", none)).toBe(true);
  });
  test("another host or port is refused unless listed", () => {
    expect(originAllowed("https://evil.example", "chat.example.com", none)).toBe(false);
    expect(originAllowed("http://127.0.0.1:9999", "127.0.0.1:6080", none)).toBe(false);
    expect(originAllowed("https://app.example.com", "chat.example.com", new Set(["https://app.example.com"]))).toBe(true);
  });
  test("an opaque or malformed origin is refused", () => {
    expect(originAllowed("null", "chat.example.com", none)).toBe(false);
    expect(originAllowed("not a url", "chat.example.com", none)).toBe(false);
  });
});

class FakeWs implements MessageSocket {
  readonly messages = true;
  sent: string[] = [];
  calls = 0;
  buffered = 0;
  ended = false;
  terminated = false;
  sendLines(lines: string) {
    this.calls++;
    this.sent.push(...lines.split("\n").slice(0, -1));
  }
  end() {
    this.ended = true;
  }
  terminate() {
    this.terminated = true;
  }
}

const connOver = (ws: FakeWs, maxOutput = 1000) => offlineConn(ws, { maxOutput });

const tick = () => new Promise((r) => setImmediate(r));

describe("a Conn over a WebSocket", () => {
  test("sends each frame of a tick as its own message, without the newline, in one call", async () => {
    const ws = new FakeWs();
    const conn = connOver(ws);
    conn.write('{"type":"ok","re":1}\n');
    conn.write('{"type":"ok","re":2}\n');
    await tick();
    expect(ws.sent).toEqual(['{"type":"ok","re":1}', '{"type":"ok","re":2}']);
    expect(ws.calls).toBe(1);
  });

  test("counts what the WebSocket still holds against the output limit, and closes a client that does not read", async () => {
    const ws = new FakeWs();
    const conn = connOver(ws, 1000);
    ws.buffered = 900;
    expect(conn.unsent).toBe(900);
    conn.write(`${JSON.stringify({ type: "msg", text: "x".repeat(200) })}\n`);
    expect(ws.terminated).toBe(true);
    expect(conn.closed).toBe(true);
  });

  test("below() waits until the WebSocket has drained", async () => {
    const ws = new FakeWs();
    const conn = connOver(ws);
    ws.buffered = 500;
    let done = false;
    const waiting = conn.below(100).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    ws.buffered = 0;
    conn.drain();
    await waiting;
    expect(done).toBe(true);
  });
});
