/**
 * A lean protocol client for generating load: one raw Bun socket per
 * connection, newline-JSON framing, request/reply by id, pushes to a callback,
 * and every frame written in one tick going out in one write.
 *
 * The client library (src/client) is made for applications: promises per
 * request, an event emitter, dedupe sets, heartbeats and reconnects. Against a
 * scripted server (200 connections in pairs, closed loop) it cost ~37 µs of
 * generator CPU per delivered message; this client ~22-26 µs (most of it the
 * socket syscalls). On a 2-core machine every core the generator burns is
 * taken from the server and MariaDB.
 *
 * Everything the generator sends is ASCII, so string lengths are byte lengths.
 * The framing (lines, frame parsing) is the test client's (framing.ts); what
 * is its own is the write batching and the two fast paths in #onLine.
 */
import type { Socket, SocketHandler } from "bun";
import type { ConnectOptions } from "./connect.ts";
import { type Frame, LineReader, parseFrame } from "./framing.ts";

export type { Frame } from "./framing.ts";

export interface LoadWireHandlers {
  /** a push (any frame that is neither ok nor error, hello excluded) */
  push(w: LoadWire, frame: Frame): void;
  /** a reply whose id was not made with request(): the fast path (sends, acks) */
  reply(w: LoadWire, frame: Frame): void;
  /** the connection closed (by either side) */
  closed(w: LoadWire, error?: Error): void;
}

interface Waiter {
  resolve(frame: Frame): void;
  reject(err: Error): void;
}

/** Connections with output written this tick, flushed together in one microtask. */
let dirty: LoadWire[] = [];
let flushScheduled = false;
function flushDirty() {
  flushScheduled = false;
  const list = dirty;
  dirty = [];
  for (const w of list) w.flush();
}

const OK_PREFIX = '{"type":"ok","re":';
const MSG_PREFIX = '{"type":"msg","mid":';
const TEXT_KEY = '"text":"';

/** The digits of a non-negative integer at `i` in `s`, and where they end; -1 when none. */
function intAt(s: string, i: number): [number, number] {
  let v = 0;
  const start = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return i === start ? [-1, i] : [v, i];
}

export class LoadWire {
  socket: Socket<LoadWire> | null = null;
  node = "";
  closed = false;
  /** index of this connection in the run (user load_<index>) */
  readonly index: number;
  /** arbitrary per-connection state of the scenario */
  state: any = undefined;
  readonly #reader = new LineReader((line) => this.#onLine(line));
  #out = "";
  #queued = false;
  #backlog = false;
  #nextId = 1;
  #waiters: Map<number, Waiter> | null = null;
  #hello = Promise.withResolvers<void>();
  #handlers: LoadWireHandlers;

  private constructor(index: number, handlers: LoadWireHandlers) {
    this.index = index;
    this.#handlers = handlers;
    this.#hello.promise.catch(() => {});
  }

  /** Connects (from `localAddress` when given) and resolves after the server's hello. */
  static async open(
    opts: { host: string; port: number; localAddress?: string; timeoutMs?: number },
    index: number,
    handlers: LoadWireHandlers,
  ): Promise<LoadWire> {
    const w = new LoadWire(index, handlers);
    const timer = setTimeout(() => w.#fail(new Error("connect_timeout")), opts.timeoutMs ?? 10_000);
    try {
      const options: ConnectOptions<LoadWire> = {
        hostname: opts.host,
        port: opts.port,
        data: w,
        socket: LoadWire.#HANDLERS,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      };
      const socket = await Bun.connect<LoadWire>(options);
      w.socket = socket;
      if (w.closed) socket.terminate();
      await w.#hello.promise;
      return w;
    } catch (e) {
      w.#fail(e as Error);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Next request id for the fast path (callers keep their own map of ids). */
  nextId(): number {
    return this.#nextId++;
  }

  /** Queues a raw frame line (with its newline); sent with the rest of this tick's output. */
  write(line: string): void {
    if (this.closed) return;
    this.#out += line;
    if (!this.#queued && !this.#backlog) {
      this.#queued = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flushDirty);
      }
    }
  }

  /** A request answered through a promise: for setup (login, add_friend), not the hot loop. */
  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Frame> {
    if (this.closed) return Promise.reject(new Error("closed"));
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Frame>();
    const timer = setTimeout(() => {
      this.#waiters?.delete(id);
      reject(new Error(`timeout: no reply to ${op} within ${timeoutMs} ms`));
    }, timeoutMs);
    (this.#waiters ??= new Map()).set(id, {
      resolve: (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      },
      reject: (e: Error) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    this.write(`${JSON.stringify({ type: op, id, ...fields })}\n`);
    return promise;
  }

  /** Writes what is queued; keeps the rest for the drain event. */
  flush(): void {
    this.#queued = false;
    const socket = this.socket;
    if (!socket || this.closed || this.#out.length === 0) return;
    const n = socket.write(this.#out);
    if (n === this.#out.length) {
      this.#out = "";
      this.#backlog = false;
    } else {
      this.#out = n > 0 ? this.#out.slice(n) : this.#out;
      this.#backlog = true; // wait for drain
    }
  }

  /** Bytes not yet taken by the socket. */
  get unsent(): number {
    return this.#out.length;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.socket?.end();
    if (!this.socket) this.#fail(new Error("closed"));
  }

  terminate(): void {
    this.socket?.terminate();
    this.#fail(new Error("terminated"));
  }

  #onLine(line: string) {
    if (line.length === 0) return; // the server sends none; nothing to do with one
    // Fast paths for the two frames that make up the load (the server writes
    // `type` first, then `re` or `mid`): a reply nobody awaits through
    // request(), and a msg push. Anything else is parsed in full.
    if (line.startsWith(OK_PREFIX)) {
      const [re, end] = intAt(line, OK_PREFIX.length);
      const c = line.charCodeAt(end);
      if (re >= 0 && (c === 44 || c === 125) && !this.#waiters?.has(re)) {
        this.#handlers.reply(this, { type: "ok", re });
        return;
      }
    } else if (line.startsWith(MSG_PREFIX)) {
      const [mid, end] = intAt(line, MSG_PREFIX.length);
      const t = line.indexOf(TEXT_KEY, end);
      if (mid >= 0 && t > 0) {
        const from = t + TEXT_KEY.length;
        const to = line.indexOf('"', from);
        if (to > 0) {
          this.#handlers.push(this, { type: "msg", mid, text: line.slice(from, to) });
          return;
        }
      }
    }
    const frame = parseFrame(line);
    if (!frame) {
      this.#handlers.closed(this, new Error(`bad frame from server: ${line.slice(0, 100)}`));
      this.terminate();
      return;
    }
    const type = frame.type;
    if (type === "ok" || type === "error") {
      const waiter = this.#waiters?.get(frame.re);
      if (waiter) {
        this.#waiters!.delete(frame.re);
        waiter.resolve(frame);
      } else this.#handlers.reply(this, frame);
    } else if (type === "hello") {
      this.node = frame.node;
      this.#hello.resolve();
    } else this.#handlers.push(this, frame);
  }

  #fail(err: Error) {
    if (this.closed) return;
    this.closed = true;
    this.#hello.reject(err);
    if (this.#waiters) {
      for (const w of this.#waiters.values()) w.reject(err);
      this.#waiters.clear();
    }
    this.#handlers.closed(this, err);
  }

  #onDrain() {
    this.#backlog = false;
    this.flush();
  }

  /** One handler object for every connection (the LoadWire rides in socket.data). */
  static readonly #HANDLERS: SocketHandler<LoadWire> = {
    data: (s, chunk) => s.data.#reader.push(chunk),
    drain: (s) => s.data.#onDrain(),
    close: (s, err) => s.data.#fail(err ?? new Error("closed by server")),
    error: (s, err) => s.data.#fail(err ?? new Error("closed by server")),
    connectError: (s, err) => s.data.#fail(err ?? new Error("closed by server")),
  };
}
