/**
 * A user of the lab, on the project's protocol test client (test/support/wire.ts,
 * written against PROTOCOL.md only, so the lab judges the server from the
 * outside): requests matched to replies by `re`, pushes recorded with their
 * arrival time, every `msg` acked, and reconnection with the session token
 * after the connection drops (jittered backoff, bounded in attempts and time).
 * Sending a message so that it survives that is people.ts's sendOnce.
 */
import { Wire, type Frame, type WireOptions } from "../../test/support/wire.ts";
import type { LabTls } from "./probes.ts";

export type { Frame } from "../../test/support/wire.ts";

export interface ClientOptions {
  host: string;
  port: number;
  /** Name in the lab's report. */
  label: string;
  /** TLS towards the server, trusting this authority; plain TCP without. */
  tls?: LabTls;
  /** Ping interval while connected, in ms; a ping unanswered for 3 intervals drops the connection. Default 1000. */
  pingMs?: number;
  /** Reconnect backoff: first delay and cap, in ms. Default 100 and 1000. */
  backoffMs?: [number, number];
  /** Give up reconnecting after this long, in ms. Default 30000. */
  reconnectForMs?: number;
  /** Speak the WebSocket transport at this path (e.g. "/ws", over TLS when `tls` is given) instead of TCP. */
  wsPath?: string;
}

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** One outage: when the connection dropped and when login with the token succeeded again. */
export interface Outage {
  lostAt: number;
  backAt?: number;
  node?: string;
  attempts: number;
}

export class LabClient {
  readonly opts: Required<Omit<ClientOptions, "tls" | "wsPath">> & Pick<ClientOptions, "tls" | "wsPath">;
  node?: string;
  token?: string;
  user?: { id: number; name: string };
  /** Every `msg` received, by mid (duplicates counted apart). */
  readonly received = new Map<number, Frame>();
  /** When each mid first arrived (Date.now()). */
  readonly arrivedAt = new Map<number, number>();
  duplicates = 0;
  /** Every push other than `msg`, with its arrival time. */
  readonly events: { at: number; frame: Frame }[] = [];
  readonly outages: Outage[] = [];
  /** While true, a dropped connection is not re-established (until release()). */
  held = false;
  gaveUp = false;

  /** The connection now, if any: a new Wire for each (re)connection. */
  #wire?: Wire;
  /** The connection a login succeeded on. */
  #loggedInOn?: Wire;
  #closing = false;
  #reconnecting = false;
  #ackQueue: number[] = [];
  #ackTimer?: Timer;
  #pingTimer?: Timer;
  #lastPong = 0;

  constructor(opts: ClientOptions) {
    this.opts = { pingMs: 1000, backoffMs: [100, 1000], reconnectForMs: 30_000, ...opts };
  }

  get connected(): boolean {
    return !!this.#wire;
  }

  /** Connected and logged in on this connection: requests that need a user can go. */
  get ready(): boolean {
    return !!this.#wire && this.#wire === this.#loggedInOn;
  }

  /** Connects and waits for `hello`, both within `timeoutMs`; returns its node. */
  async open(timeoutMs = 3_000): Promise<string> {
    this.#closing = false;
    const how: WireOptions = {
      host: this.opts.host,
      tls: this.opts.tls,
      timeoutMs,
      keep: false,
      // The server broke the framing: record it where the checks look, and carry on.
      strict: false,
      onGarbage: (line) => {
        this.events.push({ at: Date.now(), frame: { type: "lab_bad_frame", line } });
        console.error(`   ${this.opts.label}: unparsable frame from the server: ${line.slice(0, 200)}`);
      },
      onFrame: (f) => this.#onFrame(f),
      onClose: (closed) => this.#onClose(closed),
    };
    let w: Wire;
    try {
      w = this.opts.wsPath !== undefined ? await this.#openWs(timeoutMs, how) : await Wire.connect(this.opts.port, how);
    } catch (e) {
      throw new Error(`${this.opts.label}: ${(e as Error).message}`);
    }
    if (w.closed) throw new Error(`${this.opts.label}: closed right after hello`);
    this.#wire = w;
    this.node = String(w.hello?.node);
    this.#lastPong = Date.now();
    this.#pingTimer ??= setInterval(() => this.#ping(), this.opts.pingMs);
    return this.node;
  }

  /** A browser's connection: the WebSocket transport, bounded like a TCP connect (a SYN lost while the VIP moves). */
  async #openWs(timeoutMs: number, opts: WireOptions): Promise<Wire> {
    const connecting = Wire.connectWs(this.opts.port, { ...opts, path: this.opts.wsPath });
    let timer: Timer | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no WebSocket hello within ${timeoutMs} ms`)), timeoutMs)));
    try {
      return await Promise.race([connecting, late]);
    } catch (e) {
      connecting.then((w) => w.abort(), () => {}); // opened after all, too late: drop it
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a request; resolves with the `ok` frame, rejects with RequestError on `error`. */
  async request(type: string, fields: Record<string, unknown> = {}, timeoutMs = 5_000): Promise<Frame> {
    const w = this.#wire;
    if (!w) throw new Error(`${this.opts.label}: not connected`);
    let f: Frame;
    try {
      f = await w.req({ ...fields, type }, timeoutMs);
    } catch (e) {
      throw new Error(`${this.opts.label}: ${type}: ${(e as Error).message}`);
    }
    if (f.type !== "ok") throw new RequestError(String(f.code), String(f.message));
    return f;
  }

  async login(fields: Record<string, unknown>): Promise<Frame> {
    const w = this.#wire;
    const ok = await this.request("login", fields);
    this.#loggedInOn = w;
    this.user = ok.user as { id: number; name: string };
    this.token = ok.token as string | undefined;
    return ok;
  }

  /** Closes for good: no reconnect. */
  close() {
    this.#closing = true;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#ackTimer);
    this.#wire?.close();
    this.#wire = undefined;
  }

  /** Drops the connection as if the network did, then reconnects with the token. */
  drop() {
    this.#wire?.abort();
  }

  /** Lets a held client reconnect. */
  release() {
    this.held = false;
    if (!this.#wire && !this.#closing) void this.#reconnect();
  }

  #onFrame(f: Frame) {
    this.#lastPong = Date.now();
    // An error that answers nothing (shutting_down, idle_timeout) is news for the checks.
    if (f.type === "error" && f.re === undefined) {
      this.events.push({ at: Date.now(), frame: f });
      return;
    }
    // Replies reach their request() through the Wire; unawaited ones (pings) need nothing; hello is the Wire's.
    if (f.type === "ok" || f.type === "error" || f.type === "hello") return;
    if (f.type === "msg") {
      const mid = Number(f.mid);
      if (this.received.has(mid)) this.duplicates++;
      else {
        this.received.set(mid, f);
        this.arrivedAt.set(mid, Date.now());
      }
      this.#queueAck(mid);
      return;
    }
    this.events.push({ at: Date.now(), frame: f });
  }

  #queueAck(mid: number) {
    this.#ackQueue.push(mid);
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined;
      const mids = this.#ackQueue.splice(0, 1000);
      if (!mids.length || !this.#wire) return;
      // Ignored on purpose: an ack lost with the connection leaves those
      // messages pending, the server pushes them again at the next login,
      // and `received` drops the duplicates.
      this.request("ack", { mids }).catch(() => undefined);
    }, 20);
  }

  #ping() {
    const w = this.#wire;
    if (!w) return;
    if (Date.now() - this.#lastPong > 3 * this.opts.pingMs) {
      w.abort(); // half-dead (e.g. the VIP moved under us): drop it
      return;
    }
    w.write(`{"type":"ping"}\n`);
  }

  #onClose(w: Wire) {
    // A connection that is not (or no longer) ours: a failed attempt, which the caller handles.
    if (w !== this.#wire) return;
    this.#wire = undefined;
    // During a reconnect attempt the loop itself handles the failure.
    if (this.#closing || !this.token || this.#reconnecting) return;
    this.outages.push({ lostAt: Date.now(), attempts: 0 });
    if (!this.held) void this.#reconnect();
  }

  async #reconnect() {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    const outage = this.outages.at(-1)!;
    const [min, max] = this.opts.backoffMs;
    const deadline = Date.now() + this.opts.reconnectForMs;
    try {
      for (let attempt = 0; Date.now() < deadline && !this.#closing && !this.held; attempt++) {
        outage.attempts++;
        try {
          await this.open(2_000);
          await this.login({ token: this.token });
          outage.backAt = Date.now();
          outage.node = this.node;
          return;
        } catch {
          // Refused, reset or timed out: the VIP is moving or the node is gone. Back off and retry.
          this.#wire?.abort();
          this.#wire = undefined;
        }
        const delay = Math.min(max, min * 2 ** attempt) * (0.5 + Math.random() / 2);
        await Bun.sleep(delay);
      }
      if (!this.held && !this.#closing) this.gaveUp = true;
    } finally {
      this.#reconnecting = false;
    }
  }
}
