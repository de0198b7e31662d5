/**
 * A Conn's output over a byte stream (TCP, TLS) without a network: what the
 * socket does not take at once waits, as bytes, for its drain, and goes out
 * whole and in order, multi-byte characters cut anywhere included.
 */
import { describe, expect, test } from "bun:test";
import type { StreamSocket } from "../../src/server/conn.ts";
import { offlineConn } from "../support/offline-conn.ts";

/** Takes at most `room` bytes per write, as a full kernel buffer would. */
class NarrowSocket implements StreamSocket {
  chunks: Uint8Array[] = [];
  constructor(public room: number) {}
  write(data: string | Uint8Array): number {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const n = Math.min(this.room, bytes.length);
    this.chunks.push(bytes.slice(0, n));
    return n;
  }
  end() {}
  terminate() {}
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

const connOver = (socket: StreamSocket) => offlineConn(socket, { maxFrame: 1000, maxOutput: 100_000 });

const tick = () => new Promise((r) => setImmediate(r));

describe("a Conn over a byte stream", () => {
  test("sends a tick's lines in one write when the socket takes them", async () => {
    const socket = new NarrowSocket(1_000_000);
    const conn = connOver(socket);
    conn.write('{"type":"ok","re":1}\n');
    conn.write('{"type":"ok","re":2,"text":"héllo 👋"}\n');
    await tick();
    expect(socket.chunks.length).toBe(1);
    expect(socket.text).toBe('{"type":"ok","re":1}\n{"type":"ok","re":2,"text":"héllo 👋"}\n');
    expect(conn.unsent).toBe(0);
  });

  test("keeps what the socket did not take as bytes and sends it, whole and in order, on each drain", async () => {
    const socket = new NarrowSocket(7);
    const conn = connOver(socket);
    const lines = ['{"text":"é👋é"}\n', '{"text":"ünïcödé and more"}\n'];
    conn.write(lines[0] as string);
    await tick();
    // 7 bytes taken: the rest waits, counted in bytes against the output limit.
    expect(conn.unsent).toBe(Buffer.byteLength(lines[0] as string) - 7);
    conn.write(lines[1] as string);
    for (let i = 0; i < 20 && conn.unsent > 0; i++) conn.drain();
    expect(conn.unsent).toBe(0);
    expect(socket.text).toBe(lines.join(""));
  });
});
