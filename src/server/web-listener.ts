/**
 * The web port: `GET /ws` upgrades to a WebSocket that carries the same
 * frames as the chat port, one per message (PROTOCOL.md, "WebSocket
 * transport"); every other request goes to the site (the web client). Each
 * WebSocket becomes a Conn like a TCP socket does, so sessions, limits and
 * order are the same on both.
 */
import type { Server, ServerWebSocket } from "bun";
import type { Conn, MessageSocket } from "./conn.ts";

/** Answers the web port's plain HTTP requests (the web client's files). */
export type Site = (req: Request) => Response | Promise<Response>;

export interface WebListenerOptions {
  host: string;
  /** 0 picks a free one. */
  port: number;
  tls?: { cert: string; key: string };
  /** Origins allowed besides the page's own, e.g. "https://chat.example.com". */
  origins: readonly string[];
  site?: Site;
  /** Longest frame in bytes, newline included: longer messages are answered frame_too_large. */
  maxFrame: number;
  /** A new WebSocket: its Conn (one refused has said why and is ending). */
  accept: (socket: MessageSocket, remote: string) => Conn;
  /** The WebSocket closed (either side). */
  closed: (conn: Conn) => void;
}

interface WsData {
  remote: string;
  conn?: Conn;
}

/** Lowercase scheme://host[:port], as browsers send Origin. */
function normalOrigin(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    return u.origin === "null" ? undefined : u.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * PROTOCOL.md: a request without Origin is accepted (not a browser, or a
 * same-origin tool); a browser's Origin must be the page's own (the Host it
 * asked for) or one the operator listed.
 */
export function originAllowed(origin: string | null, host: string | null, allowed: ReadonlySet<string>): boolean {
  if (origin === null) return true;
  const o = normalOrigin(origin);
  if (o === undefined) return false;
  if (allowed.has(o)) return true;
  return host !== null && new URL(o).host === host.toLowerCase();
}

function messageSocket(ws: ServerWebSocket<WsData>): MessageSocket {
  return {
    messages: true,
    sendLines(lines: string) {
      // One syscall for the tick's frames, one message each.
      ws.cork(() => {
        for (let start = 0; start < lines.length; ) {
          const nl = lines.indexOf("\n", start);
          ws.sendText(lines.slice(start, nl));
          start = nl + 1;
        }
      });
    },
    get buffered() {
      return ws.getBufferedAmount();
    },
    end() {
      ws.close(1000);
    },
    terminate() {
      ws.terminate();
    },
  };
}

export function listenWeb(o: WebListenerOptions): Server<WsData> {
  const allowed = new Set(o.origins.map((x) => normalOrigin(x) ?? x.toLowerCase()));
  return Bun.serve<WsData>({
    hostname: o.host,
    port: o.port,
    ...(o.tls ? { tls: { cert: o.tls.cert, key: o.tls.key } } : {}),
    fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === "/ws") {
        if (!originAllowed(req.headers.get("origin"), req.headers.get("host"), allowed))
          return new Response("this page's origin may not open a chat connection here (see --web-origin)\n", { status: 403 });
        const remote = server.requestIP(req)?.address ?? "unknown";
        if (server.upgrade(req, { data: { remote } })) return undefined;
        return new Response("/ws takes a WebSocket upgrade\n", { status: 400 });
      }
      if (o.site) return o.site(req);
      return new Response("not found\n", { status: 404 });
    },
    websocket: {
      // Limits are the Conn's: the output limit closes a client that does not read, before Bun's buffer would drop anything.
      backpressureLimit: 0,
      closeOnBackpressureLimit: false,
      // Longer than any frame, so that an oversized one gets frame_too_large rather than a bare close.
      maxPayloadLength: o.maxFrame * 4 + 64,
      // The server's own idle sweep closes silent connections, with a frame that says so.
      idleTimeout: 0,
      sendPings: false,
      open(ws) {
        ws.data.conn = o.accept(messageSocket(ws), ws.data.remote);
      },
      message(ws, message) {
        ws.data.conn?.receiveMessage(message);
      },
      drain(ws) {
        ws.data.conn?.drain();
      },
      close(ws) {
        const conn = ws.data.conn;
        if (!conn) return;
        conn.closedBySocket();
        o.closed(conn);
      },
    },
  });
}
