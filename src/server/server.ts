/**
 * The chat server: accepts connections with Bun.listen, turns bytes into
 * frames, runs each connection's requests in order, and owns the parts the
 * handlers share. `startServer` makes one; tests make many.
 */
import type { Socket, TCPSocketListener } from "bun";
import type { Bus } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import { BAD_UTF8, DEFAULT_MAX_FRAME, TOO_LARGE } from "../protocol/frame-reader.ts";
import type { Db } from "../store/db.ts";
import { ackPending, type NewMessage, storeMessages } from "../store/messages.ts";
import { ping } from "../store/server-info.ts";
import { withRetry } from "../store/server-pool.ts";
import { Conn, Flusher } from "./connection.ts";
import type { Policy, ServerParts, Write } from "./context.ts";
import { Dependency } from "./dependency.ts";
import { dispatch } from "./dispatch.ts";
import { GroupCommit } from "./group-commit.ts";
import { endSession } from "./handlers/account.ts";
import { Hub } from "./hub.ts";
import { Metrics } from "./metrics.ts";
import { createLocalPresence, type Presence } from "./presence.ts";
import { Session } from "./session.ts";

export interface ServerOptions {
  /** Listen address. Default "0.0.0.0". */
  host?: string;
  /** Listen port; 0 picks a free one. Default 6000. */
  port?: number;
  /** Node id sent in `hello`. Required. */
  node: string;
  /** Longest frame in bytes, newline included. Default 65536. */
  maxFrame?: number;
  /** Unsent output in bytes past which a connection is closed. Default 1 MiB. */
  maxOutput?: number;
  /** A connection that sent nothing for this long (ms) is closed. Default 90 s. */
  idleTimeoutMs?: number;
  /** Requests per second per connection; 0 turns limiting off. Default 2000. */
  rateLimit?: number;
  /** Requests a connection may send at once above its rate. Default 4000. */
  rateBurst?: number;
  /** Most connections from one remote address; 0 for no limit. Default 0. */
  maxConnsPerAddress?: number;
  /** Login tokens live this long (ms). Default 14 days. */
  tokenTtlMs?: number;
  /** argon2id cost. Default 19 MiB, 2 passes (OWASP's minimum). */
  hash?: { memoryCost: number; timeCost: number };
  /** TLS certificate and key (PEM text); plain TCP without them. */
  tls?: { cert: string; key: string };
  /** Caps answered with `limit_reached`. Defaults 5000 friends, 500 groups per user, 5000 members per group. */
  maxFriends?: number;
  maxGroupsPerUser?: number;
  maxGroupMembers?: number;
  /**
   * In a cluster, while a conversation's messages come from more than one
   * node, a push waits until the other nodes have shown a larger mid, this
   * long (ms) at most, to go out in mid order; 0 turns the wait off. Default 50.
   */
  orderWindowMs?: number;
}

export interface ServerDeps {
  db: Db;
  bus: Bus;
  log: Logger;
  metrics?: Metrics;
  /** Cluster presence; single-node presence when absent. */
  presence?: (hub: Hub, db: Db) => Presence;
  /** Whether a multi-row INSERT gets consecutive ids (InnoDB autoinc lock mode 0/1). Default true. */
  consecutiveIds?: boolean;
}

export interface ChatServer {
  readonly port: number;
  readonly node: string;
  readonly parts: ServerParts;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting, answers what is in flight, ends sessions, flushes. Leaves db and bus to their owner. */
  stop(): Promise<void>;
}

export const DEFAULTS = {
  host: "0.0.0.0",
  port: 6000,
  maxFrame: DEFAULT_MAX_FRAME,
  maxOutput: 1024 * 1024,
  idleTimeoutMs: 90_000,
  rateLimit: 2000,
  rateBurst: 4000,
  maxConnsPerAddress: 0,
  tokenTtlMs: 14 * 24 * 3600 * 1000,
  hash: { memoryCost: 19_456, timeCost: 2 },
  maxFriends: 5000,
  maxGroupsPerUser: 500,
  maxGroupMembers: 5000,
  orderWindowMs: 50,
} satisfies Omit<ServerOptions, "node" | "tls">;

export async function startServer(options: ServerOptions, deps: ServerDeps): Promise<ChatServer> {
  const o = { ...DEFAULTS, ...options };
  if (!o.node) throw new TypeError("node id is required");
  if (o.rateLimit > 0 && o.rateBurst < 1) throw new TypeError("rateBurst must be at least 1 when rate limiting is on");
  const { db, log } = deps;
  const metrics = deps.metrics ?? new Metrics();
  const hub = new Hub(o.node, deps.bus, log, o.orderWindowMs);
  const presence = deps.presence?.(hub, db) ?? createLocalPresence(hub);
  const consecutive = deps.consecutiveIds ?? true;
  const policy: Policy = {
    tokenTtlMs: o.tokenTtlMs,
    hash: o.hash,
    maxFriends: o.maxFriends,
    maxGroupsPerUser: o.maxGroupsPerUser,
    maxGroupMembers: o.maxGroupMembers,
  };

  const batchSize = metrics.histogram("chat_message_batch_size", "Messages per group commit", [1, 2, 5, 10, 20, 50, 100, 200, 500]);
  const batchMs = metrics.histogram("chat_message_batch_ms", "Time to write one group commit, ms", [1, 2, 5, 10, 25, 50, 100, 250, 1000]);
  // Messages and acks share one transaction (one fsync), and their replies and
  // pushes go out in the same event-loop turn: one socket write per connection
  // where two commits made two.
  const writes = new GroupCommit<Write, number>(
    async (batch) => {
      const stored: NewMessage[] = [];
      const acked: { user: number; mids: number[] }[] = [];
      for (const w of batch) {
        if (w.message) stored.push(w.message);
        else acked.push(w.ack);
      }
      const { mids, pending, removed } = await withRetry(() =>
        db.transaction(async (conn) => ({
          ...(stored.length > 0 ? await storeMessages(conn, stored, consecutive) : { mids: [], pending: 0 }),
          removed: acked.length > 0 ? await ackPending(conn, acked) : [],
        })),
      );
      metrics.inc("chat_messages_stored_total", "Messages durably stored", undefined, stored.length);
      metrics.inc("chat_pending_added_total", "Pending deliveries created (one per recipient of each message)", undefined, pending);
      metrics.inc("chat_pending_acked_total", "Pending deliveries removed by acks", undefined, removed.reduce((x, y) => x + y, 0));
      if (stored.length > 0) batchSize(stored.length);
      let m = 0;
      let a = 0;
      return batch.map((w) => (w.message ? (mids[m++] as number) : (removed[a++] as number)));
    },
    { maxBatch: 500, onBatch: (_n, ms) => batchMs(ms) },
  );

  const parts: ServerParts = {
    node: o.node,
    db,
    hub,
    presence,
    writes,
    log,
    metrics,
    count: {
      request: metrics.counter("chat_requests_total", "Requests by type", "type"),
      error: metrics.counter("chat_errors_total", "Error replies by code", "code"),
    },
    policy,
    mysql: new Dependency("mysql", log, () => ping(db)),
    dummyHash: await Bun.password.hash(crypto.randomUUID(), { algorithm: "argon2id", ...o.hash }),
  };

  const conns = new Set<Conn>();
  const perAddress = new Map<string, number>();
  let nextId = 1;
  let stopping = false;
  const hello = JSON.stringify({ type: "hello", version: 1, node: o.node }) + "\n";
  const limits = {
    maxFrame: o.maxFrame,
    maxOutput: o.maxOutput,
    rate: o.rateLimit,
    burst: o.rateBurst,
    countOut: metrics.counter("chat_frames_out_total", "Frames sent, by type", "type"),
    flusher: new Flusher(),
  };

  const closeConn = (conn: Conn) => {
    if (!conns.delete(conn)) return;
    const n = (perAddress.get(conn.remote) ?? 1) - 1;
    if (n > 0) perAddress.set(conn.remote, n);
    else perAddress.delete(conn.remote);
    const session = conn.session;
    conn.session = undefined;
    if (session) void endSession(parts, session).catch((e) => log.warn("session_end_failed", { user: session.user.id, error: e }));
  };

  const listener: TCPSocketListener<{ conn: Conn }> = Bun.listen<{ conn: Conn }>({
    hostname: o.host,
    port: o.port,
    ...(o.tls ? { tls: { cert: o.tls.cert, key: o.tls.key } } : {}),
    socket: {
      open(socket: Socket<{ conn: Conn }>) {
        const remote = socket.remoteAddress;
        const count = (perAddress.get(remote) ?? 0) + 1;
        const conn = new Conn(nextId++, socket, remote, limits);
        socket.data = { conn };
        if (stopping || (o.maxConnsPerAddress > 0 && count > o.maxConnsPerAddress)) {
          conn.write(
            JSON.stringify({
              type: "error",
              code: stopping ? "shutting_down" : "rate_limited",
              message: stopping ? "the server is shutting down" : "too many connections from your address",
            }) + "\n",
          );
          conn.end();
          return;
        }
        perAddress.set(remote, count);
        conns.add(conn);
        metrics.inc("chat_connections_total", "Connections accepted");
        conn.write(hello);
      },
      data(socket, chunk) {
        const conn = socket.data.conn;
        if (!conns.has(conn)) return;
        conn.lastSeen = Date.now();
        for (const frame of conn.reader.push(chunk)) {
          if (frame === TOO_LARGE) {
            parts.count.error("frame_too_large");
            // Replies to earlier requests go first; then the error, then the close.
            conn.queue = conn.queue.then(() => conn.settled()).then(() => {
              conn.write(JSON.stringify({ type: "error", code: "frame_too_large", message: `a frame may be at most ${o.maxFrame} bytes` }) + "\n");
              conn.end();
            });
            return;
          }
          // Blank lines (CRLF keep-alives, stray spaces) are no requests: ignored like empty ones.
          if (frame !== BAD_UTF8 && frame.charCodeAt(0) <= 32 && frame.trim() === "") continue;
          conn.busy++;
          conn.queue = conn.queue.then(() =>
            dispatch(parts, conn, frame)
              .catch((e) => log.error("dispatch_failed", { error: e }))
              .finally(() => conn.busy--),
          );
        }
      },
      drain(socket) {
        socket.data.conn.drain();
      },
      close(socket) {
        socket.data.conn.closedBySocket();
        closeConn(socket.data.conn);
      },
      error(socket, err) {
        log.debug("socket_error", { conn: socket.data?.conn.id, error: err });
      },
    },
  });

  // One timer for every connection's idle check; it does not keep the process alive.
  const idleSweep = setInterval(() => {
    const cutoff = Date.now() - o.idleTimeoutMs;
    for (const conn of conns)
      if (conn.lastSeen < cutoff && conn.busy === 0) {
        conn.write(JSON.stringify({ type: "error", code: "idle_timeout", message: `nothing received for ${o.idleTimeoutMs / 1000} s` }) + "\n");
        conn.end();
        closeConn(conn);
      }
  }, Math.min(5000, Math.max(100, o.idleTimeoutMs / 4)));
  idleSweep.unref();

  let outOfOrderSeen = Session.outOfOrder;
  metrics.collect(() => {
    metrics.inc(
      "chat_pushes_out_of_order_total",
      "Messages not pushed to a connection that already had a larger mid of their conversation; they stay pending for the next login",
      undefined,
      Session.outOfOrder - outOfOrderSeen,
    );
    outOfOrderSeen = Session.outOfOrder;
    metrics.gauge("chat_connections", "Open connections", conns.size);
    metrics.gauge("chat_sessions", "Logged-in sessions on this node", hub.sessionCount);
    metrics.gauge("chat_users_online_here", "Users with a session on this node", hub.userCount);
    const b = writes.backlog;
    metrics.gauge("chat_message_queue", "Messages waiting for a group commit", b.queued);
  });

  log.info("listen", { node: o.node, host: o.host, port: listener.port, tls: !!o.tls });

  return {
    port: listener.port,
    node: o.node,
    parts,
    get connections() {
      return conns.size;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      listener.stop(false);
      clearInterval(idleSweep);
      // Answer what each connection has in flight, then say goodbye and end its session.
      await Promise.all(
        [...conns].map(async (conn) => {
          await Promise.race([conn.queue.then(() => conn.settled()), Bun.sleep(10_000)]);
          conn.write(JSON.stringify({ type: "error", code: "shutting_down", message: "the server is shutting down; reconnect" }) + "\n");
          const session = conn.session;
          conn.session = undefined;
          if (session) await endSession(parts, session).catch((e) => log.warn("session_end_failed", { error: e }));
          conn.end();
          conns.delete(conn);
        }),
      );
      await writes.drained();
      await presence.close();
      parts.mysql.close();
      listener.stop(true);
      log.info("stopped", { node: o.node });
    },
  };
}
