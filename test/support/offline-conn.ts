/** A Conn over a socket of the test's own, with no server behind it: its framing and output alone. */
import { Conn, type ConnSocket, Flusher } from "../../src/server/conn.ts";

export function offlineConn(socket: ConnSocket, limits: { maxFrame?: number; maxOutput?: number } = {}): Conn {
  return new Conn(1, socket, "127.0.0.1", {
    maxFrame: limits.maxFrame ?? 100,
    maxOutput: limits.maxOutput ?? 1000,
    rate: 0,
    burst: 1,
    flusher: new Flusher(),
    handle: async () => {},
    onError: () => {},
  });
}
