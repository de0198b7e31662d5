/**
 * The chat server: accepts connections with Bun.listen and hands their bytes
 * to a Conn each, which feeds dispatch; it makes the services the handlers
 * share, sweeps idle connections and shuts down in order. `startServer` makes
 * one; tests make many.
 */
import type { Socket, TCPSocketListener } from "bun";
import type { Bus } from "../cluster/bus.ts";
import type { EndReason } from "../cluster/envelope.ts";
import { createLocalPresence, type PresenceFactory } from "../cluster/presence.ts";
import type { Logger } from "../log.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import { FEATURES } from "../protocol/features.ts";
import { DEFAULT_MAX_FRAME } from "../protocol/frame-reader.ts";
import { DEFAULT_PORT } from "../protocol/port.ts";
import type { Db, Leases } from "../store/db.ts";
import { answersWithin, ping } from "../store/server-info.ts";
import { purgeExpiredTokens } from "../store/tokens.ts";
import { BanWatch } from "./ban-watch.ts";
import { AbuseLog } from "./abuse-log.ts";
import { Conn, type ConnSocket, Flusher } from "./conn.ts";
import { dispatch } from "./dispatch.ts";
import { Hub } from "./hub.ts";
import { LOGIN_THROTTLE_DEFAULTS, LoginThrottle } from "./login-throttle.ts";
import { MessageWriter } from "./message-writer.ts";
import { Metrics } from "./metrics.ts";
import { OutageLatch } from "./outage-latch.ts";
import { Roster } from "./roster.ts";
import { UserRate } from "./user-rate.ts";
import type { Services } from "./services.ts";
import { Sessions } from "./sessions.ts";
import { listenWeb, type Site } from "./web-listener.ts";

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
  /** TLS certificate and key (PEM text); plain TCP without them. The web port uses them too. */
  tls?: { cert: string; key: string };
  /**
   * The web port: the web client at `/`, the WebSocket transport at `/ws`; 0
   * for none. Default the chat port + 80 (6080 beside 6000), or a free port
   * when the chat port is 0.
   */
  webPort?: number;
  /** The web port's listen address. Default: the chat port's. */
  webHost?: string;
  /** Origins besides the page's own whose pages may open a WebSocket, e.g. "https://chat.example.com". Default none. */
  webOrigins?: readonly string[];
  /** Answers the web port's requests other than /ws (the web client); 404 without it. */
  site?: Site;
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
  /** How long after sending a sender may edit or delete a message, ms; 0 for no bound. Default 0. */
  editWindowMs?: number;
  /** `open` (add_friend befriends at once, as in version 1) or `consent` (it asks). Default open. */
  friendPolicy?: "open" | "consent";
  /** Open outgoing friend requests per user. Default 100. */
  maxOutgoingRequests?: number;
  /** Blocks per user. Default 1000. */
  maxBlocks?: number;
  /** Friend requests per user per minute (add_friend too under consent); 0 for no limit. Default 10. */
  requestRatePerMinute?: number;
  /** How often expired login tokens are deleted, ms; 0 never. Default 10 min. */
  tokenPurgeIntervalMs?: number;
  /**
   * How often the node looks in the database for users banned lately and
   * ends their sessions here, ms; 0 never. A ban reaches every node through
   * Redis at once; this is for the nodes it did not reach. Default 10 s.
   */
  banCheckIntervalMs?: number;
  /**
   * A connection's bad frames (or rate-limited requests) are logged as one
   * line when they start, then one summary line per this many ms at most,
   * and one when they stop; a burst stops after as long without one. Default 60 s.
   */
  abuseLogIntervalMs?: number;
  /**
   * Failed password logins of one account within `loginWindowMs` after which
   * its next login waits (answered `rate_limited` until then); 0 turns it off. Default 5.
   */
  loginAccountFailures?: number;
  /** The same, for failures from one remote address (behind a proxy: the proxy's); 0 turns it off. Default 20. */
  loginAddressFailures?: number;
  /** The window for those counts, ms; a key is forgotten after as long without a failure. Default 60 s. */
  loginWindowMs?: number;
  /** The first wait, ms; each further failure doubles it. Default 250 ms. */
  loginDelayMs?: number;
  /** The longest wait, ms. Default 30 s. */
  loginMaxDelayMs?: number;
}

export interface ServerDeps {
  db: Db;
  /** The message writer's connections, which take several statements per query: createWriterPool. */
  writerDb: Leases;
  bus: Bus;
  log: Logger;
  metrics?: Metrics;
  /** Cluster presence; single-node presence when absent. */
  presence?: PresenceFactory;
  /** Whether a multi-row INSERT gets consecutive ids (InnoDB autoinc lock mode 0/1). Default true. */
  consecutiveIds?: boolean;
}

export interface ChatServer {
  readonly port: number;
  /** The web port, when it is on. */
  readonly webPort: number | undefined;
  readonly node: string;
  readonly services: Services;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting, answers what is in flight, ends sessions, flushes. Leaves db and bus to their owner. */
  stop(): Promise<void>;
}

export const DEFAULTS = {
  host: "0.0.0.0",
  port: DEFAULT_PORT,
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
  tokenPurgeIntervalMs: 10 * 60_000,
  editWindowMs: 0,
  friendPolicy: "open",
  maxOutgoingRequests: 100,
  maxBlocks: 1000,
  requestRatePerMinute: 10,
  banCheckIntervalMs: 10_000,
  abuseLogIntervalMs: 60_000,
  loginAccountFailures: LOGIN_THROTTLE_DEFAULTS.accountFailures,
  loginAddressFailures: LOGIN_THROTTLE_DEFAULTS.addressFailures,
  loginWindowMs: LOGIN_THROTTLE_DEFAULTS.windowMs,
  loginDelayMs: LOGIN_THROTTLE_DEFAULTS.delayMs,
  loginMaxDelayMs: LOGIN_THROTTLE_DEFAULTS.maxDelayMs,
  webOrigins: [],
} satisfies Omit<ServerOptions, "node" | "tls" | "webPort" | "webHost" | "site">;

/** The web port to listen on (0: a free one), or undefined for none. */
export function webPortOf(port: number, webPort: number | undefined): number | undefined {
  if (webPort === 0) return undefined;
  if (webPort !== undefined) return webPort;
  if (port === 0) return 0;
  if (port + 80 > 65535) throw new TypeError(`the web port defaults to the chat port + 80, which is past 65535 for port ${port}: set it (0 for none)`);
  return port + 80;
}

export async function startServer(options: ServerOptions, deps: ServerDeps): Promise<ChatServer> {
  const o = { ...DEFAULTS, ...options };
  if (!o.node) throw new TypeError("node id is required");
  if (o.rateLimit > 0 && o.rateBurst < 1) throw new TypeError("rateBurst must be at least 1 when rate limiting is on");
  const { db, log } = deps;
  const metrics = deps.metrics ?? new Metrics();
  /** One error frame as a line, for the frames that answer no request; counted with the replies. */
  const notice = (code: ErrorCode, message: string) => {
    metrics.error(code);
    return JSON.stringify({ type: "error", code, message }) + "\n";
  };
  // Before anything starts: contradictory throttle options are a TypeError here.
  const throttle = new LoginThrottle({
    accountFailures: o.loginAccountFailures,
    addressFailures: o.loginAddressFailures,
    windowMs: o.loginWindowMs,
    delayMs: o.loginDelayMs,
    maxDelayMs: o.loginMaxDelayMs,
  });

  const roster = new Roster();
  /** Ends the sessions here of a user an operator banned (`chat admin ban`). */
  const endSessions = async (user: number, reason: EndReason) => {
    const ended = await sessions.endUser(user, reason);
    if (ended > 0) {
      for (let i = 0; i < ended; i++) metrics.error(reason);
      log.info("sessions_ended", { user, reason, sessions: ended });
    }
    return ended;
  };
  const hub = new Hub({
    node: o.node,
    bus: deps.bus,
    roster,
    log,
    orderWindowMs: o.orderWindowMs,
    endSessions: (user, reason) => void endSessions(user, reason).catch((e) => log.warn("session_end_failed", { user, error: e })),
    pushed: (ts) => metrics.pushed(ts),
  });
  // Presence asks the node about its sessions, and tells it of users whose node died.
  const presence = (deps.presence ?? createLocalPresence)({
    localUsers: () => roster.users(),
    isLocal: (user) => roster.isLocal(user),
    listening: (user) => hub.listening(user),
    announce: (user) => hub.announce(user),
    onlyHere: (user) => hub.onlyHere(user),
    // Redis is back: what other nodes did meanwhile may not have reached this one.
    busReturned: () => {
      hub.forgetWhereabouts();
      void sessions.refreshCaches().then(
        (users) => log.info("caches_refreshed", { users }),
        (e) => log.warn("cache_refresh_failed", { error: e }),
      );
    },
    wentOffline: (user) => sessions.wentOffline(user),
    stats: () => ({ connections: conns.size, sessions: roster.sessionCount, users: roster.userCount }),
  });
  const sessions = new Sessions({
    node: o.node,
    db,
    roster,
    hub,
    presence,
    hooks: { outOfOrder: () => metrics.outOfOrder() },
  });

  const services: Services = {
    node: o.node,
    db,
    writer: new MessageWriter(deps.writerDb, metrics, { consecutiveIds: deps.consecutiveIds }),
    roster,
    sessions,
    hub,
    presence,
    log,
    abuse: new AbuseLog(log, o.abuseLogIntervalMs),
    metrics,
    throttle,
    policy: {
      tokenTtlMs: o.tokenTtlMs,
      hash: o.hash,
      maxFriends: o.maxFriends,
      maxGroupsPerUser: o.maxGroupsPerUser,
      maxGroupMembers: o.maxGroupMembers,
      editWindowMs: o.editWindowMs,
      friendPolicy: o.friendPolicy,
      maxOutgoingRequests: o.maxOutgoingRequests,
      maxBlocks: o.maxBlocks,
    },
    requestRate: new UserRate(o.requestRatePerMinute),
    mysql: new OutageLatch("mysql", log, () => ping(db)),
    dummyHash: await Bun.password.hash(crypto.randomUUID(), { algorithm: "argon2id", ...o.hash }),
  };

  let opened!: () => void;
  const conns = new Set<Conn>();
  const perAddress = new Map<string, number>();
  let nextId = 1;
  let stopping = false;
  const webPort = webPortOf(o.port, o.webPort);
  const features = [...FEATURES, ...(o.friendPolicy === "consent" ? ["consent"] : []), ...(webPort !== undefined ? ["ws"] : [])];
  const hello = JSON.stringify({ type: "hello", version: 1, node: o.node, features }) + "\n";
  const connOptions = {
    maxFrame: o.maxFrame,
    maxOutput: o.maxOutput,
    rate: o.rateLimit,
    burst: o.rateBurst,
    countOut: metrics.frameOut,
    flusher: new Flusher(),
    handle: (conn: Conn, frame: Parameters<typeof dispatch>[2]) => dispatch(services, conn, frame),
    onError: (e: unknown) => log.error("dispatch_failed", { error: e }),
    // Connections accepted while presence starts wait for it (a failed start closes them).
    ready: new Promise<void>((r) => (opened = r)),
  };

  /** The connection is gone (or going): forget it, and end its session. */
  const forget = (conn: Conn) => {
    if (!conns.delete(conn)) return;
    services.abuse.closed(conn);
    const n = (perAddress.get(conn.remote) ?? 1) - 1;
    if (n > 0) perAddress.set(conn.remote, n);
    else perAddress.delete(conn.remote);
    const session = conn.detach();
    if (session) void sessions.end(session).catch((e) => log.warn("session_end_failed", { user: session.user.id, error: e }));
  };

  /** A new connection on either port: its Conn, greeted, or told why it is refused and ending. */
  const accept = (socket: ConnSocket, remote: string): Conn => {
    const count = (perAddress.get(remote) ?? 0) + 1;
    const conn = new Conn(nextId++, socket, remote, connOptions);
    if (stopping || (o.maxConnsPerAddress > 0 && count > o.maxConnsPerAddress)) {
      conn.write(stopping ? notice("shutting_down", "the server is shutting down") : notice("rate_limited", "too many connections from your address"));
      conn.end();
      return conn;
    }
    perAddress.set(remote, count);
    conns.add(conn);
    metrics.connectionAccepted();
    conn.write(hello);
    return conn;
  };

  const listen = () => Bun.listen<{ conn: Conn }>({
    hostname: o.host,
    port: o.port,
    ...(o.tls ? { tls: { cert: o.tls.cert, key: o.tls.key } } : {}),
    socket: {
      open(socket: Socket<{ conn: Conn }>) {
        socket.data = { conn: accept(socket, socket.remoteAddress) };
      },
      data(socket, chunk) {
        const conn = socket.data.conn;
        if (conns.has(conn)) conn.receive(chunk);
      },
      drain(socket) {
        socket.data.conn.drain();
      },
      close(socket) {
        socket.data.conn.closedBySocket();
        forget(socket.data.conn);
      },
      error(socket, err) {
        log.debug("socket_error", { conn: socket.data?.conn.id, error: err });
      },
    },
  });

  const listenOnWeb = (port: number) =>
    listenWeb({
      host: o.webHost ?? o.host,
      port,
      tls: o.tls,
      origins: o.webOrigins,
      site: o.site,
      maxFrame: o.maxFrame,
      accept,
      closed: forget,
    });

  // The port first: a node that cannot listen must fail before it touches
  // anything shared with other nodes (presence in Redis).
  let listener: TCPSocketListener<{ conn: Conn }>;
  try {
    listener = listen();
  } catch (e) {
    await presence.close();
    throw listenError(e, o.host, o.port, "--port");
  }
  let web: ReturnType<typeof listenWeb> | undefined;
  try {
    if (webPort !== undefined) web = listenOnWeb(webPort);
  } catch (e) {
    listener.stop(true);
    await presence.close();
    throw listenError(e, o.webHost ?? o.host, webPort as number, "--web-port");
  }
  try {
    await presence.start();
  } catch (e) {
    listener.stop(true);
    web?.stop(true);
    await presence.close();
    throw e;
  }
  opened();

  // One timer for every connection's idle check; it does not keep the process alive.
  const idleSweep = setInterval(() => {
    const cutoff = Date.now() - o.idleTimeoutMs;
    for (const conn of conns)
      if (conn.idleSince(cutoff)) {
        conn.write(notice("idle_timeout", `nothing received for ${o.idleTimeoutMs / 1000} s`));
        conn.end();
        forget(conn);
      }
  }, Math.min(5000, Math.max(100, o.idleTimeoutMs / 4)));
  idleSweep.unref();

  // Expired tokens can no longer log anyone in; deleting them keeps the table small.
  const purge = async () => {
    let total = 0;
    // Bounded: at most 100 rounds of 1000 per sweep, the rest next time.
    for (let round = 0, n = 1000; round < 100 && n === 1000; round++) total += n = await purgeExpiredTokens(db, 1000);
    if (total > 0) log.info("tokens_purged", { expired: total });
  };
  const purgeSweep =
    o.tokenPurgeIntervalMs > 0
      ? setInterval(() => void purge().catch((e) => log.warn("token_purge_failed", { error: e })), o.tokenPurgeIntervalMs)
      : undefined;
  purgeSweep?.unref();

  const bans = new BanWatch({ db, log, intervalMs: o.banCheckIntervalMs, endUser: (user) => endSessions(user, "banned"), isLocal: (user) => roster.isLocal(user) });
  bans.start();

  metrics.watch({
    connections: () => conns.size,
    sessions: () => roster.sessionCount,
    usersOnlineHere: () => roster.userCount,
    mysqlUp: () => answersWithin(db, 1000),
    // A single node has no Redis, and no chat_redis_up (metrics.ts says why).
    ...(deps.bus.state === "local" ? {} : { redisUp: () => deps.bus.state === "up" }),
    throttleKeys: () => {
      throttle.prune();
      return { account: throttle.accounts.size, address: throttle.addresses.size };
    },
  });

  log.info("listen", { node: o.node, host: o.host, port: listener.port, web: web?.port, tls: !!o.tls });

  return {
    port: listener.port,
    webPort: web?.port,
    node: o.node,
    services,
    get connections() {
      return conns.size;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      listener.stop(false);
      void web?.stop(false);
      clearInterval(idleSweep);
      clearInterval(purgeSweep);
      bans.stop();
      // Answer what each connection has read, then say goodbye and end its session. It reads nothing
      // more from here on: a request read while the others were being answered would otherwise be
      // answered after the goodbye (PROTOCOL.md: no reply after it), with a not_logged_in from the
      // session already ended. What the client sent and the server did not read, it sends again.
      for (const conn of conns) conn.stopReading();
      await Promise.all(
        [...conns].map(async (conn) => {
          await Promise.race([conn.answered(), Bun.sleep(10_000)]);
          conn.write(notice("shutting_down", "the server is shutting down; reconnect"));
          const session = conn.detach();
          if (session) await sessions.end(session).catch((e) => log.warn("session_end_failed", { error: e }));
          conn.end();
          conns.delete(conn);
          services.abuse.closed(conn);
        }),
      );
      await services.writer.drained();
      hub.close();
      await presence.close();
      services.mysql.close();
      listener.stop(true);
      void web?.stop(true);
      log.info("stopped", { node: o.node });
    },
  };
}

/** A listen failure as the operator needs it: which address and port, and why. */
function listenError(e: unknown, host: string, port: number, flag: string): Error {
  const code = (e as { code?: string })?.code;
  if (code === "EADDRINUSE") return Object.assign(new Error(`port ${port} is already in use (EADDRINUSE); choose another with ${flag}`), { code });
  if (code === "EACCES") return Object.assign(new Error(`port ${port} needs privileges this process lacks (EACCES)`), { code });
  if (code === "EADDRNOTAVAIL")
    return Object.assign(new Error(`address ${host} is not on this machine (EADDRNOTAVAIL); check ${flag === "--port" ? "--host" : "--web-host"}`), { code });
  return Object.assign(new Error(`cannot listen on ${host}:${port}: ${(e as Error)?.message ?? e}`), { code });
}
