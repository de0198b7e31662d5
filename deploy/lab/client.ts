/**
 * A small protocol client for the lab, written against PROTOCOL.md only so
 * the lab judges the server from the outside: newline-JSON framing on bytes,
 * requests matched to replies by `re`, pushes recorded with their arrival
 * time, every `msg` acked, and reconnection with the session token after the
 * connection drops (jittered backoff, bounded in attempts and time).
 */
import type { Socket } from "bun";
import { connectWithin, type LabTls } from "./wait.ts";

export type Frame = { type: string; [k: string]: unknown };

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
}

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

interface Waiter {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

/** One outage: when the connection dropped and when login with the token succeeded again. */
export interface Outage {
  lostAt: number;
  backAt?: number;
  node?: string;
  attempts: number;
}

export class LabClient {
  readonly opts: Required<Omit<ClientOptions, "tls">> & Pick<ClientOptions, "tls">;
  node?: string;
  token?: string;
  user?: { id: number; name: string };
  /** Every `msg` received, by mid (duplicates counted apart). */
  readonly received = new Map<number, Frame>();
  duplicates = 0;
  /** Every push other than `msg`, with its arrival time. */
  readonly events: { at: number; frame: Frame }[] = [];
  readonly outages: Outage[] = [];
  /** While true, a dropped connection is not re-established (until release()). */
  held = false;
  gaveUp = false;

  #sock?: Socket<undefined>;
  #buf: Uint8Array = new Uint8Array(0);
  #nextId = 1;
  #waiters = new Map<number, Waiter>();
  #hello?: { resolve: (node: string) => void; reject: (e: Error) => void };
  #closing = false;
  #reconnecting = false;
  #ackQueue: number[] = [];
  #ackTimer?: Timer;
  #pingTimer?: Timer;
  #lastPong = 0;
  #listeners = new Set<() => void>();

  constructor(opts: ClientOptions) {
    this.opts = { pingMs: 1000, backoffMs: [100, 1000], reconnectForMs: 30_000, ...opts };
  }

  get connected(): boolean {
    return !!this.#sock;
  }

  /** Connects and waits for `hello`, both within `timeoutMs`; returns its node. */
  async open(timeoutMs = 3_000): Promise<string> {
    this.#closing = false;
    const hello = new Promise<string>((resolve, reject) => (this.#hello = { resolve, reject }));
    // Attached at once: a hello that fails while we still await connect() is not "unhandled".
    hello.catch(() => undefined);
    const t0 = Date.now();
    this.#sock = await connectWithin<undefined>(
      {
        hostname: this.opts.host,
        port: this.opts.port,
        tls: this.opts.tls,
        socket: {
          data: (_s, chunk) => this.#onData(chunk),
          close: (s) => this.#onClose(s),
          error: (s) => this.#onClose(s),
        },
      },
      timeoutMs,
    );
    timeoutMs = Math.max(1, timeoutMs - (Date.now() - t0));
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.opts.label}: no hello within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      this.node = await Promise.race([hello, timeout]);
    } catch (e) {
      this.#sock?.terminate();
      this.#sock = undefined;
      throw e;
    } finally {
      clearTimeout(timer);
      this.#hello = undefined;
    }
    this.#lastPong = Date.now();
    this.#pingTimer ??= setInterval(() => this.#ping(), this.opts.pingMs);
    return this.node;
  }

  /** Sends a request; resolves with the `ok` frame, rejects with RequestError on `error`. */
  request(type: string, fields: Record<string, unknown> = {}, timeoutMs = 5_000): Promise<Frame> {
    const sock = this.#sock;
    if (!sock) return Promise.reject(new Error(`${this.opts.label}: not connected`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new Error(`${this.opts.label}: ${type} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(id, { resolve, reject, timer });
      sock.write(JSON.stringify({ ...fields, type, id }) + "\n");
    });
  }

  async login(fields: Record<string, unknown>): Promise<Frame> {
    const ok = await this.request("login", fields);
    this.user = ok.user as { id: number; name: string };
    this.token = ok.token as string | undefined;
    return ok;
  }

  /** Closes for good: no reconnect. */
  close() {
    this.#closing = true;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#ackTimer);
    this.#sock?.end();
    this.#sock = undefined;
  }

  /** Drops the connection as if the network did, then reconnects with the token. */
  drop() {
    this.#sock?.terminate();
  }

  /** Lets a held client reconnect. */
  release() {
    this.held = false;
    if (!this.#sock && !this.#closing) void this.#reconnect();
  }

  /** Resolves when `check()` is true (re-checked on every frame and every 100 ms), false on timeout. */
  async until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.#listeners.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 100));
        this.#listeners.add(done);
      });
    }
    return true;
  }

  #onData(chunk: Uint8Array) {
    const all = new Uint8Array(this.#buf.length + chunk.length);
    all.set(this.#buf);
    all.set(chunk, this.#buf.length);
    let start = 0;
    for (let nl = all.indexOf(0x0a); nl !== -1; nl = all.indexOf(0x0a, start)) {
      const line = new TextDecoder().decode(all.subarray(start, nl));
      start = nl + 1;
      if (!line.trim()) continue;
      let frame: Frame;
      try {
        frame = JSON.parse(line) as Frame;
      } catch {
        // The server broke the framing: record it where the checks look.
        this.events.push({ at: Date.now(), frame: { type: "lab_bad_frame", line } });
        console.error(`   ${this.opts.label}: unparsable frame from the server: ${line.slice(0, 200)}`);
        continue;
      }
      this.#onFrame(frame);
    }
    this.#buf = all.slice(start);
    for (const l of [...this.#listeners]) l();
  }

  #onFrame(f: Frame) {
    this.#lastPong = Date.now();
    if (f.type === "ok" || f.type === "error") {
      const w = typeof f.re === "number" ? this.#waiters.get(f.re) : undefined;
      if (!w) {
        // An error that answers nothing (shutting_down, idle_timeout) is news for the checks;
        // a reply to a ping or an ack nobody awaits is not.
        if (f.type === "error" && f.re === undefined) this.events.push({ at: Date.now(), frame: f });
        return;
      }
      this.#waiters.delete(f.re as number);
      clearTimeout(w.timer);
      if (f.type === "ok") w.resolve(f);
      else w.reject(new RequestError(String(f.code), String(f.message)));
      return;
    }
    if (f.type === "hello") {
      this.#hello?.resolve(String(f.node));
      return;
    }
    if (f.type === "msg") {
      const mid = Number(f.mid);
      if (this.received.has(mid)) this.duplicates++;
      else this.received.set(mid, f);
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
      if (!mids.length || !this.#sock) return;
      // Ignored on purpose: an ack lost with the connection leaves those
      // messages pending, the server pushes them again at the next login,
      // and `received` drops the duplicates.
      this.request("ack", { mids }).catch(() => undefined);
    }, 20);
  }

  #ping() {
    if (!this.#sock) return;
    if (Date.now() - this.#lastPong > 3 * this.opts.pingMs) {
      this.#sock.terminate(); // half-dead (e.g. the VIP moved under us): drop it
      return;
    }
    this.#sock.write(`{"type":"ping"}\n`);
  }

  #onClose(s: Socket<undefined>) {
    if (s !== this.#sock) return;
    this.#sock = undefined;
    this.#buf = new Uint8Array(0);
    for (const [id, w] of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`${this.opts.label}: connection closed`));
      this.#waiters.delete(id);
    }
    this.#hello?.reject(new Error(`${this.opts.label}: closed before hello`));
    for (const l of [...this.#listeners]) l();
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
          this.#sock?.terminate();
          this.#sock = undefined;
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
