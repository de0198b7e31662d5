/**
 * The protocol test client: one TCP connection that records every frame the
 * server sends and lets a test wait for a reply or a push by event, never by
 * sleep. It is also the byte-level client of the hostile-input and fault
 * tests: it writes any bytes, in any pieces, queued behind the socket's
 * backpressure (so megabytes go out whole); it counts replies and error codes;
 * it survives a line that is not JSON; and with `keep: false` it keeps only
 * counts, for thousands of connections at once.
 *
 * Written against the protocol alone (it imports nothing from src/), so the
 * tests and the lab judge the server from the outside. The load generator has
 * its own lean client (load-wire.ts) on the same framing.
 */
import type { Socket, SocketHandler, TLSOptions } from "bun";
import { type ConnectOptions, connectWithin } from "./connect.ts";
import { encodeFrame, type Frame, isReply, LineReader, parseFrame } from "./framing.ts";

export type { Frame } from "./framing.ts";

export interface WireOptions {
  /** Server address. Default "127.0.0.1". */
  host?: string;
  /** Source address of the connection (another loopback address for per-address limits). Default: the kernel's choice. */
  localAddress?: string;
  /** TLS towards the server (e.g. `{ ca }` of the authority it trusts), for a server run with --tls-cert. Default: plain TCP. */
  tls?: TLSOptions;
  /** Keep every frame in `frames`. Default true; false keeps only the counts (storms, fuzzing). */
  keep?: boolean;
  /** Resolve connect() only after the server's hello. Default true. */
  hello?: boolean;
  /**
   * Bound on connecting plus the hello, in ms (a SYN lost while a VIP moves
   * fails fast). Default: connecting is left to the kernel's retries, as a
   * storm of connections needs, and the hello gets 15 s.
   */
  timeoutMs?: number;
  /**
   * A line from the server that is not a JSON object fails every wait on this
   * connection, pending and later, with that line in the message. Default
   * true; false only records it in `garbage` (the lab keeps going and reports it).
   */
  strict?: boolean;
  /** Called for every frame received, after the waits it completes. */
  onFrame?: (frame: Frame, w: Wire) => void;
  /** Called for every line that is not a frame. */
  onGarbage?: (line: string, w: Wire) => void;
  /** Called once, when the connection closes (either side). */
  onClose?: (w: Wire) => void;
}

const DEFAULTS = { host: "127.0.0.1", keep: true, hello: true, strict: true } satisfies WireOptions;

/** How long a wait lasts unless the caller says otherwise, in ms. */
const WAIT_MS = 15_000;
/** How long closedPromise() waits unless told otherwise: a server's shutdown drains first. */
const CLOSE_WAIT_MS = 30_000;

interface Waiter {
  /** Only frames with at least this index (in arrival order) count. */
  from: number;
  pred: (f: Frame, replies: number) => boolean;
  resolve: (f: Frame, replies: number) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

type Opts = WireOptions & Required<Pick<WireOptions, keyof typeof DEFAULTS>>;

export class Wire {
  /** Every frame received, in order (when `keep`, the default). */
  readonly frames: Frame[] = [];
  /** How many frames were received, kept or not: the index the next one gets. */
  received = 0;
  /** Replies (`ok` and `error`) received. */
  replies = 0;
  /** Error replies by code. */
  readonly codes = new Map<string, number>();
  /** Lines from the server that were not a JSON object (at most 200 characters each): always a server bug. */
  readonly garbage: string[] = [];
  /** The server's hello, once received. */
  hello: Frame | undefined;
  closed = false;
  socket!: Socket<Wire>;
  /** Set for a connection to a web port's /ws (connectWs): each message is one frame. */
  ws: WebSocket | undefined;

  readonly #opts: Opts;
  readonly #reader = new LineReader((line) => this.#onLine(line));
  #out: Uint8Array[] = [];
  #waiters: Waiter[] = [];
  #closeWaiters: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];
  #nextId = 1;
  /** Why every wait fails from now on (strict mode, after garbage). */
  #broken: Error | undefined;

  private constructor(opts: Opts) {
    this.#opts = opts;
  }

  /** Connects to `port` and, unless `hello: false`, waits for the server's hello. */
  static async connect(port: number, options: WireOptions = {}): Promise<Wire> {
    const opts: Opts = { ...DEFAULTS, ...options };
    const w = new Wire(opts);
    const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    const how: ConnectOptions<Wire> = { hostname: opts.host, port, data: w, socket: Wire.#HANDLERS };
    if (opts.localAddress) how.localAddress = opts.localAddress;
    if (opts.tls) how.tls = opts.tls;
    w.socket = await (deadline === undefined ? Bun.connect<Wire>(how) : connectWithin<Wire>(how, deadline - Date.now()));
    if (opts.hello && !w.hello) {
      try {
        await w.next((f) => f.type === "hello", deadline === undefined ? WAIT_MS : Math.max(1, deadline - Date.now()));
      } catch (e) {
        w.abort();
        throw e;
      }
    }
    return w;
  }

  /**
   * Connects to a web port's `/ws` and, unless `hello: false`, waits for the
   * hello. `write` sends a string as one text message and bytes as one binary
   * message; a message from the server with a newline in it is garbage.
   */
  static async connectWs(port: number, options: WireOptions & { origin?: string; path?: string } = {}): Promise<Wire> {
    const opts: Opts = { ...DEFAULTS, ...options };
    const w = new Wire(opts);
    const scheme = opts.tls ? "wss" : "ws";
    const headers = options.origin === undefined ? undefined : { Origin: options.origin };
    // Bun's WebSocket takes headers and TLS settings beside the standard arguments.
    const ws = new WebSocket(`${scheme}://${opts.host}:${port}${options.path ?? "/ws"}`, { headers, tls: opts.tls } as unknown as string[]);
    w.ws = ws;
    const opened = Promise.withResolvers<void>();
    ws.onopen = () => opened.resolve();
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") w.#onGarbage("(a binary message)");
      else if (e.data.includes("\n")) w.#onGarbage(e.data);
      else w.#onLine(e.data);
    };
    ws.onclose = (e) => {
      opened.reject(new Error(`WebSocket closed before it opened (${e.code}${e.reason ? ` ${e.reason}` : ""})`));
      w.#onClose();
    };
    ws.onerror = () => opened.reject(new Error("WebSocket upgrade refused or failed"));
    await opened.promise;
    if (opts.hello && !w.hello) {
      try {
        await w.next((f) => f.type === "hello", opts.timeoutMs ?? WAIT_MS);
      } catch (e) {
        w.abort();
        throw e;
      }
    }
    return w;
  }

  // ---- reading ----

  #onLine(text: string) {
    const f = parseFrame(text);
    if (!f) return this.#onGarbage(text);
    if (f.type === "hello") this.hello ??= f;
    if (isReply(f)) {
      this.replies++;
      if (f.type === "error") this.codes.set(f.code, (this.codes.get(f.code) ?? 0) + 1);
    }
    const index = this.received++;
    if (this.#opts.keep) this.frames.push(f);
    if (this.#waiters.length)
      for (const w of [...this.#waiters])
        if (index >= w.from && w.pred(f, this.replies)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(f, this.replies);
        }
    this.#opts.onFrame?.(f, this);
  }

  #onGarbage(text: string) {
    this.garbage.push(text.slice(0, 200));
    this.#opts.onGarbage?.(text, this);
    if (!this.#opts.strict || this.#broken) return;
    this.#broken = new Error(`the server sent a line that is not a JSON object: ${JSON.stringify(text.slice(0, 200))}`);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.#broken);
    }
  }

  #onClose() {
    if (this.closed) return;
    this.closed = true;
    this.#out = [];
    for (const r of this.#closeWaiters.splice(0)) r();
    for (const r of this.#flushWaiters.splice(0)) r();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`connection closed while waiting; ${this.#context()}`));
    }
    this.#opts.onClose?.(this);
  }

  /** What the last frames were, for error messages. */
  #context(): string {
    const last = this.#opts.keep ? `last frames ${JSON.stringify(this.frames.slice(-5))}` : `${this.received} frames`;
    return `${last}, ${this.replies} replies${this.garbage.length ? `, garbage ${JSON.stringify(this.garbage.slice(-3))}` : ""}`;
  }

  #wait(from: number, pred: Waiter["pred"], timeoutMs: number, resolve: Waiter["resolve"], reject: (e: Error) => void) {
    if (this.#broken) return reject(this.#broken);
    if (this.closed) return reject(new Error(`connection closed; ${this.#context()}`));
    const w: Waiter = {
      from,
      pred,
      resolve,
      reject,
      timer: setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms; ${this.#context()}`));
      }, timeoutMs),
    };
    this.#waiters.push(w);
  }

  /**
   * The first frame matching `pred` from index `from` of `frames` on: one
   * already received (when kept), else the next to arrive.
   */
  next(pred: (f: Frame) => boolean, timeoutMs = WAIT_MS, from = 0): Promise<Frame> {
    for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i] as Frame)) return Promise.resolve(this.frames[i] as Frame);
    return new Promise((resolve, reject) => this.#wait(from, pred, timeoutMs, resolve, reject));
  }

  /** The next frame to arrive that matches `pred` (none already received), with the reply count at that point. */
  arrival(pred: (f: Frame, replies: number) => boolean, timeoutMs = WAIT_MS): Promise<{ frame: Frame; replies: number }> {
    return new Promise((resolve, reject) => this.#wait(this.received, pred, timeoutMs, (frame, replies) => resolve({ frame, replies }), reject));
  }

  /** A push of `type` matching `pred`, from frame index `from` on. */
  push(type: string, pred: (f: Frame) => boolean = () => true, from = 0, timeoutMs = WAIT_MS): Promise<Frame> {
    return this.next((f) => f.type === type && pred(f), timeoutMs, from);
  }

  /** The kept frames of `type`. */
  pushes(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  // ---- requests ----

  /** Sends a frame (with a fresh numeric id unless it has one) and returns its reply, ok or error. */
  req(frame: Frame, timeoutMs = WAIT_MS): Promise<Frame> {
    const id = frame.id ?? this.#nextId++;
    const reply = this.next((f) => isReply(f) && f.re === id, timeoutMs, this.received);
    this.write(encodeFrame({ ...frame, id }));
    return reply;
  }

  /** Sends a frame that must succeed; returns the ok reply. */
  async ok(frame: Frame, timeoutMs = WAIT_MS): Promise<Frame> {
    const r = await this.req(frame, timeoutMs);
    if (r.type !== "ok") throw new Error(`${frame.type} failed: ${JSON.stringify(r)}`);
    return r;
  }

  // ---- writing ----

  /** Queues raw text or bytes; they go out in order, as fast as the server reads. */
  write(data: string | Uint8Array): void {
    if (this.closed) return;
    if (this.ws) return this.ws.send(data);
    this.#out.push(typeof data === "string" ? Buffer.from(data) : data);
    if (this.#out.length === 1) this.#pump();
  }

  #pump() {
    while (this.#out.length && !this.closed) {
      const head = this.#out[0] as Uint8Array;
      const n = this.socket.write(head);
      if (n < head.length) {
        this.#out[0] = head.subarray(Math.max(n, 0));
        return; // the drain handler calls again
      }
      this.#out.shift();
    }
    for (const r of this.#flushWaiters.splice(0)) r();
  }

  /** Resolves once everything queued was handed to the kernel (or the connection closed). */
  flushed(): Promise<void> {
    if (!this.#out.length || this.closed) return Promise.resolve();
    return new Promise((r) => this.#flushWaiters.push(r));
  }

  // ---- closing ----

  /** Resolves when the connection is closed (by either side); rejects after `timeoutMs`. */
  closedPromise(timeoutMs = CLOSE_WAIT_MS): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms; ${this.#context()}`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Ends the connection (FIN). */
  close(): void {
    if (this.closed) return;
    if (this.ws) this.ws.close(1000);
    else this.socket.end();
  }

  /** Resets the connection (RST), as a crashed client would. */
  abort(): void {
    if (this.closed) return;
    if (this.ws) (this.ws as WebSocket & { terminate(): void }).terminate();
    else this.socket.terminate();
  }

  /** One handler object for every connection (the Wire rides in socket.data). */
  static readonly #HANDLERS: SocketHandler<Wire> = {
    data: (s, chunk) => s.data.#reader.push(chunk),
    drain: (s) => s.data.#pump(),
    close: (s) => s.data.#onClose(),
    error: (s) => s.data.#onClose(),
    connectError: (s) => s.data.#onClose(),
  };
}
