/**
 * One client connection: the byte reader, the ordered request queue, the
 * rate limiter and the output buffer with its limit. It knows nothing of
 * operations: each frame goes to the `handle` it was made with, one after
 * another, and replies leave in request order.
 */
import { type Frame, FrameReader, TOO_LARGE } from "../protocol/frame-reader.ts";
import { frameOfMessage } from "../protocol/message-frame.ts";
import type { PushTarget, Session } from "./session.ts";

/** What a connection writes to: a byte stream (TCP, TLS) or a WebSocket. */
export type ConnSocket = StreamSocket | MessageSocket;

export interface StreamSocket {
  readonly messages?: undefined;
  /** Writes what it can now (a string as UTF-8); returns the bytes taken (the rest waits for drain). */
  write(data: string | Uint8Array): number;
  /** Ends after what was written. */
  end(): void;
  /** Closes at once. */
  terminate(): void;
}

/** A socket that carries one frame per message (a WebSocket). */
export interface MessageSocket {
  readonly messages: true;
  /** Sends each newline-terminated line of `lines` as one message, without its newline. */
  sendLines(lines: string): void;
  /** Bytes sent and not yet taken by the peer. */
  readonly buffered: number;
  /** Ends after what was sent. */
  end(): void;
  /** Closes at once. */
  terminate(): void;
}

export interface ConnOptions {
  maxFrame: number;
  /** Unsent bytes beyond which the connection is closed. */
  maxOutput: number;
  /** Requests per second refilled into the bucket; 0 turns the limit off. */
  rate: number;
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
  /** Counts frames sent, by type. */
  countOut?: (type: string) => void;
  /** Batches writes across the server's connections (one per server). */
  flusher: Flusher;
  /**
   * Handles one frame (a line, BAD_UTF8, TOO_LARGE or a BadFrame); resolves once its reply
   * is written. Frames of a connection are handled one after another; after
   * TOO_LARGE nothing more is read.
   */
  handle: (conn: Conn, frame: Frame) => Promise<void>;
  /** `handle` threw: the next frame still runs. */
  onError: (e: unknown) => void;
  /** Requests wait for this before the first one runs (the server is still joining the cluster). */
  ready?: Promise<void>;
}

/**
 * One write per connection per event-loop turn: replies and pushes that
 * different callbacks of the same turn produce for a connection go out in one
 * syscall. Socket writes are the largest share of the server's CPU.
 */
export class Flusher {
  #dirty: Conn[] = [];
  #scheduled = false;

  add(conn: Conn) {
    this.#dirty.push(conn);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }

  #run() {
    this.#scheduled = false;
    const list = this.#dirty;
    this.#dirty = [];
    for (const conn of list) conn.flush();
  }
}

/** A reply's place in the connection's reply order. */
export interface ReplySlot {
  line: string | undefined;
  written?: () => void;
}

/** The type of a frame line we made: JSON.stringify puts `"type"` first. */
function typeOf(line: string): string {
  return line.startsWith('{"type":"') ? line.slice(9, line.indexOf('"', 9)) : "?";
}

export class Conn implements PushTarget {
  readonly #o: ConnOptions;
  readonly #reader: FrameReader;
  #session: Session | undefined;
  /** The tail of this connection's request queue: requests run one after another, replies leave in order. */
  #queue: Promise<void> = Promise.resolve();
  /** Requests queued or running. */
  #busy = 0;
  #lastSeen = Date.now();
  /** A frame was too large: the connection is closing and reads nothing more. */
  #stopped = false;
  #closed = false;
  #pending = ""; // text written this tick, sent in one write
  #scheduled = false;
  #backlog: Uint8Array | null = null; // bytes the socket has not taken yet
  #drainWaiters: (() => void)[] = [];
  #tokens: number;
  #refilled = performance.now();
  /** Replies waiting for an earlier, still unanswered, detached request (see `reserve`). */
  #slots: ReplySlot[] = [];
  #head = 0;
  #settled: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly socket: ConnSocket,
    readonly remote: string,
    options: ConnOptions,
  ) {
    this.#o = options;
    if (options.ready) this.#queue = options.ready;
    this.#reader = new FrameReader(options.maxFrame);
    this.#tokens = options.burst;
  }

  /** Longest frame in bytes, newline included. */
  get maxFrame(): number {
    return this.#o.maxFrame;
  }

  /** Unsent bytes beyond which the connection is closed. */
  get maxOutput(): number {
    return this.#o.maxOutput;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The session logged in on this connection, if any. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** A login on this connection succeeded. */
  attach(session: Session) {
    this.#session = session;
  }

  /** Logout or close: the connection has no session any more; returns the one it had. */
  detach(): Session | undefined {
    const s = this.#session;
    this.#session = undefined;
    return s;
  }

  /** Whether the client has sent nothing since `cutoff` (ms since the epoch) and no request of its is running. */
  idleSince(cutoff: number): boolean {
    return this.#lastSeen < cutoff && this.#busy === 0;
  }

  /** Bytes from a stream socket: every complete frame joins the request queue. */
  receive(chunk: Uint8Array) {
    if (this.#stopped || this.#closed) return;
    this.#lastSeen = Date.now();
    for (const frame of this.#reader.push(chunk)) {
      // Blank lines (CRLF keep-alives, stray spaces) are no requests: ignored like empty ones.
      if (typeof frame === "string" && frame.charCodeAt(0) <= 32 && frame.trim() === "") continue;
      if (!this.#enqueue(frame)) return;
    }
  }

  /** One WebSocket message: the frame it carries joins the request queue. */
  receiveMessage(message: string | Uint8Array) {
    if (this.#stopped || this.#closed) return;
    this.#lastSeen = Date.now();
    const frame = frameOfMessage(message, this.#o.maxFrame);
    if (frame !== undefined) this.#enqueue(frame);
  }

  /** Queues a frame's handling; false once the connection reads nothing more (a frame was too large). */
  #enqueue(frame: Frame): boolean {
    this.#busy++;
    this.#queue = this.#queue.then(() =>
      this.#o
        .handle(this, frame)
        .catch(this.#o.onError)
        .finally(() => this.#busy--),
    );
    if (frame !== TOO_LARGE) return true;
    this.#stopped = true;
    return false;
  }

  /** Reads no more requests: what was received is still answered, what comes later gets nothing (shutdown). */
  stopReading() {
    this.#stopped = true;
  }

  /** Resolves once every request received so far is answered (shutdown). */
  answered(): Promise<void> {
    return this.#queue.then(() => this.settled());
  }

  /** Bytes waiting to be sent. */
  get unsent(): number {
    return (this.socket.messages ? this.socket.buffered : (this.#backlog?.length ?? 0)) + this.#pending.length;
  }

  /** Queues a frame line; all lines of one tick go out in one write. */
  write(line: string) {
    if (this.#closed) return;
    this.#o.countOut?.(typeOf(line));
    this.#pending += line;
    if (this.unsent > this.#o.maxOutput) return this.overflow();
    if (!this.#scheduled && !this.#backlog) {
      this.#scheduled = true;
      this.#o.flusher.add(this);
    }
  }

  /**
   * Writes a reply in request order: at once, unless an earlier detached
   * request is still unanswered; then it waits its turn. Resolves (when it
   * had to wait) once the reply is written.
   */
  reply(line: string): Promise<void> | undefined {
    if (this.#head === this.#slots.length) {
      this.write(line);
      return undefined;
    }
    const slot: ReplySlot = { line };
    this.#slots.push(slot);
    return new Promise((r) => (slot.written = r));
  }

  /**
   * Holds this request's place among the replies while it runs detached from
   * the connection's queue (acks: the next request need not wait for them).
   */
  reserve(): ReplySlot {
    const slot: ReplySlot = { line: undefined };
    this.#slots.push(slot);
    return slot;
  }

  /** Gives a reserved slot its reply; it and the replies waiting behind it go out in order. */
  fill(slot: ReplySlot, line: string) {
    slot.line = line;
    while (this.#head < this.#slots.length) {
      const next = this.#slots[this.#head] as ReplySlot;
      if (next.line === undefined) return;
      this.#head++;
      this.write(next.line);
      next.written?.();
    }
    this.#slots = [];
    this.#head = 0;
    for (const r of this.#settled.splice(0)) r();
  }

  /** Resolves once every reserved reply has been written. */
  settled(): Promise<void> {
    if (this.#head === this.#slots.length) return Promise.resolve();
    return new Promise((r) => this.#settled.push(r));
  }

  /** The output passed its limit: the client is not reading. Its messages stay pending. */
  overflow() {
    if (this.#closed) return;
    this.#pending = "";
    this.#backlog = null;
    this.close();
  }

  /** Resolves when the unsent output is below `bytes` (or the connection closed). */
  async below(bytes: number): Promise<void> {
    while (!this.#closed && this.unsent > bytes) await new Promise<void>((r) => this.#drainWaiters.push(r));
  }

  /** Takes one request token; false when the client is over its rate. */
  take(): boolean {
    if (this.#o.rate <= 0) return true;
    const now = performance.now();
    this.#tokens = Math.min(this.#o.burst, this.#tokens + ((now - this.#refilled) * this.#o.rate) / 1000);
    this.#refilled = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Socket drained: send what waited. */
  drain() {
    this.flush();
  }

  /** Sends what is queued, then ends the socket. */
  end() {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.socket.end();
    this.#wake();
  }

  /** Closes at once, dropping unsent output. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.terminate();
    this.#wake();
  }

  /** The socket closed (either side). */
  closedBySocket() {
    this.#closed = true;
    this.#pending = "";
    this.#backlog = null;
    this.#wake();
  }

  /** Writes what is queued, as far as the socket takes it. */
  flush() {
    this.#scheduled = false;
    if (this.#closed) return;
    if (this.socket.messages) {
      // The WebSocket queues what the peer has not taken yet; `unsent` counts it against the output limit.
      const lines = this.#pending;
      this.#pending = "";
      if (lines) this.socket.sendLines(lines);
      this.#wake();
      return;
    }
    if (this.#backlog) {
      const n = this.socket.write(this.#backlog);
      if (n < this.#backlog.length) {
        this.#backlog = this.#backlog.subarray(Math.max(n, 0));
        return; // wait for drain
      }
      this.#backlog = null;
    }
    if (this.#pending) {
      // The text goes as it is (the socket encodes it); bytes are made only for what it did not take.
      const text = this.#pending;
      this.#pending = "";
      const n = this.socket.write(text);
      if (n < Buffer.byteLength(text)) this.#backlog = Buffer.from(text).subarray(Math.max(n, 0));
    }
    if (!this.#backlog) this.#wake();
  }

  #wake() {
    for (const r of this.#drainWaiters.splice(0)) r();
  }
}
