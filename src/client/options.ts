/** The client library's options: what each means, its default, and the checks made once at construction. */
import { DEFAULT_PORT } from "../protocol/port.ts";
import type { AckBatcherOptions } from "./ack-batcher.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, checkBackoff } from "./backoff.ts";
import type { ClientTlsOptions } from "./link.ts";

export interface ReconnectOptions extends BackoffOptions {
  /** give up after this many failed attempts in a row (default: never) */
  maxAttempts?: number;
}

export interface ChatClientOptions {
  /** server host (default "127.0.0.1") */
  host?: string;
  /** server port (default DEFAULT_PORT, 6000) */
  port?: number;
  /** `true` for TLS with the system's CAs, or TLS settings (default false: plain TCP) */
  tls?: boolean | ClientTlsOptions;
  /**
   * A WebSocket URL (`ws://host:6080/ws`, `wss://…`): connect over the
   * server's web port instead of TCP, with the standard `WebSocket` (in a
   * browser too). `host` and `port` are for TCP and may not be given with
   * it; `tls` may, as TLS settings for a `wss://` URL (under Bun: a private
   * CA, say). Default: none (TCP).
   */
  url?: string;
  /**
   * Reconnect after losing the connection, with jittered exponential backoff
   * (100 ms doubling up to 5 s, ±50%), and log back in with the newest token.
   * With a server that offers `cid`, sends (`send`, `groupSend`) in flight or
   * made meanwhile go again after the relogin, with their cid: stored once.
   * Other requests in flight reject with ConnectionClosedError. Default false.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Acknowledge every `msg` push, in batches (one `ack` request per 10 ms or
   * 1000 messages). Default false.
   */
  autoAck?: boolean | AckBatcherOptions;
  /**
   * Drop `msg` pushes whose mid was seen recently (delivery is at least once).
   * A number is how many mids to remember. Default: 10000 with autoAck, else off.
   */
  dedupe?: boolean | number;
  /**
   * send `ping` after this long without sending anything, ms; 0 disables (default 10000).
   * Short enough that a connection stranded by a moving VIP (see deploy/README.md) is
   * noticed within seconds; well inside the server's 90 s idle limit.
   */
  heartbeatMs?: number;
  /** a heartbeat ping unanswered for this long drops the connection, ms (default 5000) */
  heartbeatTimeoutMs?: number;
  /** time allowed from dialing to the server's `hello`, ms (default 10000) */
  connectTimeoutMs?: number;
  /** reject a request whose reply takes longer, ms; 0 waits forever (default 0) */
  requestTimeoutMs?: number;
  /** longest frame accepted from the server, bytes (default 16 MiB) */
  maxFrame?: number;
  /** longest request sent, bytes; larger ones reject without being sent (default 65536, the server's default limit) */
  maxRequestBytes?: number;
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: DEFAULT_PORT,
  tls: false,
  url: undefined,
  reconnect: false,
  autoAck: false,
  dedupe: undefined,
  heartbeatMs: 10_000,
  heartbeatTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 0,
  maxFrame: 16 * 1024 * 1024,
  maxRequestBytes: 65_536,
} satisfies ChatClientOptions;

/** Dedupe window when autoAck is on and `dedupe` is not given. */
const DEFAULT_DEDUPE = 10_000;

/** Options with the defaults applied. */
export type Resolved = Omit<Required<ChatClientOptions>, "url" | "reconnect" | "autoAck" | "dedupe"> & {
  url: string | undefined;
  reconnect: (Required<BackoffOptions> & { maxAttempts: number }) | null;
  autoAck: AckBatcherOptions | null;
  dedupe: number;
};

/** Merges the defaults once; throws a TypeError for options that cannot work. */
export function resolveOptions(options: ChatClientOptions): Resolved {
  const o = { ...DEFAULTS, ...options };
  if (o.url !== undefined) {
    if (!/^wss?:\/\/[^/]/.test(o.url)) throw new TypeError(`url must be a ws:// or wss:// URL: ${o.url}`);
    const tcp = (["host", "port"] as const).filter((key) => options[key] !== undefined);
    if (tcp.length > 0) throw new TypeError(`${tcp.join(", ")} cannot be given with url (they are for TCP)`);
    // A wss:// URL already says TLS; what may come with it is how to verify (a private CA, say).
    if (o.tls !== undefined && o.tls !== false && (typeof o.tls !== "object" || !o.url.startsWith("wss://")))
      throw new TypeError("with url, tls may only be TLS settings ({ ca, serverName, rejectUnauthorized }) for a wss:// URL");
  }
  if (!(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65_535)) throw new TypeError(`bad port: ${o.port}`);
  for (const key of ["heartbeatMs", "heartbeatTimeoutMs", "requestTimeoutMs"] as const) {
    if (!(o[key] >= 0)) throw new TypeError(`${key} must be >= 0`);
  }
  if (!(o.connectTimeoutMs > 0)) throw new TypeError("connectTimeoutMs must be > 0");
  if (!(o.maxFrame >= 1024)) throw new TypeError("maxFrame must be at least 1024 bytes");
  if (!(o.maxRequestBytes >= 2)) throw new TypeError("maxRequestBytes must be at least 2 bytes");
  let reconnect: Resolved["reconnect"] = null;
  if (o.reconnect) {
    const r = o.reconnect === true ? {} : o.reconnect;
    checkBackoff(r);
    const maxAttempts = r.maxAttempts ?? Infinity;
    if (!(maxAttempts >= 1)) throw new TypeError("reconnect.maxAttempts must be >= 1");
    reconnect = { ...BACKOFF_DEFAULTS, ...r, maxAttempts };
  }
  const autoAck = o.autoAck ? (o.autoAck === true ? {} : o.autoAck) : null;
  const dedupe =
    o.dedupe === undefined ? (autoAck ? DEFAULT_DEDUPE : 0) : o.dedupe === true ? DEFAULT_DEDUPE : o.dedupe || 0;
  if (!(Number.isInteger(dedupe) && dedupe >= 0)) throw new TypeError("dedupe must be a boolean or a positive integer");
  return { ...o, reconnect, autoAck, dedupe };
}
