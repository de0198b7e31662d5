/**
 * A raw client for hostile-input and fault tests: writes any bytes (queued
 * behind the socket's backpressure, so megabytes can go out), counts every
 * reply and error code, and never trusts the server's output to be valid.
 * Plus small probes: a process's resident memory, one /metrics value.
 */
import type { Socket } from "bun";
import { readFileSync } from "node:fs";

export type Frame = Record<string, any>;

export class RawClient {
  /** Every frame received, when `keep` is on (the default); else only the counts. */
  readonly frames: Frame[] = [];
  /** Replies (`ok` and `error`) received. */
  replies = 0;
  /** Error replies by code. */
  readonly codes = new Map<string, number>();
  /** Lines from the server that were not a JSON object: always a bug. */
  readonly garbage: string[] = [];
  closed = false;
  /** The server's hello, once received. */
  hello: Frame | undefined;
  socket!: Socket<undefined>;
  #keep: boolean;
  #partial: Uint8Array[] = [];
  #out: Uint8Array[] = [];
  #waiters: { pred: (f: Frame, replies: number) => boolean; resolve: (v: { frame: Frame; replies: number }) => void; reject: (e: Error) => void; timer: Timer }[] = [];
  #closeWaiters: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];
  #decoder = new TextDecoder();

  constructor(keep = true) {
    this.#keep = keep;
  }

  /** Connects; resolves at once (without waiting for hello). */
  static async connect(port: number, opts: { host?: string; keep?: boolean } = {}): Promise<RawClient> {
    const c = new RawClient(opts.keep ?? true);
    c.socket = await Bun.connect({
      hostname: opts.host ?? "127.0.0.1",
      port,
      socket: {
        data: (_s, chunk) => c.#onData(chunk),
        drain: () => c.#pump(),
        close: () => c.#onClose(),
        error: () => c.#onClose(),
        connectError: () => c.#onClose(),
      },
    });
    return c;
  }

  /** Connects and waits for `hello`. */
  static async open(port: number, opts: { host?: string; keep?: boolean } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port, opts);
    if (!c.hello) await c.next((f) => f.type === "hello");
    return c;
  }

  #onData(chunk: Uint8Array) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      let line = chunk.subarray(start, nl);
      if (this.#partial.length) {
        this.#partial.push(line);
        line = Buffer.concat(this.#partial);
        this.#partial = [];
      }
      start = nl + 1;
      this.#onLine(this.#decoder.decode(line));
    }
    if (start < chunk.length) this.#partial.push(chunk.slice(start));
  }

  #onLine(text: string) {
    let f: Frame;
    try {
      f = JSON.parse(text);
    } catch {
      this.garbage.push(text.slice(0, 200));
      return;
    }
    if (typeof f !== "object" || f === null || Array.isArray(f)) {
      this.garbage.push(text.slice(0, 200));
      return;
    }
    if (f.type === "hello") this.hello ??= f;
    if (f.type === "ok" || f.type === "error") this.replies++;
    if (f.type === "error") this.codes.set(f.code, (this.codes.get(f.code) ?? 0) + 1);
    if (this.#keep) this.frames.push(f);
    for (const w of [...this.#waiters])
      if (w.pred(f, this.replies)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve({ frame: f, replies: this.replies });
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
      w.reject(new Error(`connection closed while waiting; last frames ${JSON.stringify(this.frames.slice(-3))}`));
    }
  }

  /** Queues bytes; they go out as fast as the server reads. */
  write(data: string | Uint8Array) {
    if (this.closed) return;
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

  /** Resolves once everything queued was handed to the kernel (or the socket closed). */
  flushed(): Promise<void> {
    if (!this.#out.length || this.closed) return Promise.resolve();
    return new Promise((r) => this.#flushWaiters.push(r));
  }

  /** The next frame matching `pred` (frames already received are not searched), with the reply count at that point. */
  next(pred: (f: Frame, replies: number) => boolean, timeoutMs = 15_000): Promise<{ frame: Frame; replies: number }> {
    if (this.closed) return Promise.reject(new Error(`connection closed; last frames ${JSON.stringify(this.frames.slice(-3))}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms; ${this.replies} replies; last frames ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      const w = { pred, resolve, reject, timer };
      this.#waiters.push(w);
    });
  }

  /** The first kept frame matching `pred`, already received or still to come. */
  find(pred: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
    const seen = this.frames.find(pred);
    return seen ? Promise.resolve(seen) : this.next(pred, timeoutMs).then((x) => x.frame);
  }

  /** Sends a request with a fresh string id and waits for its reply. */
  async req(frame: Frame, timeoutMs = 15_000): Promise<Frame> {
    const id = `r${++reqSeq}`;
    const reply = this.next((f) => (f.type === "ok" || f.type === "error") && f.re === id, timeoutMs);
    this.write(JSON.stringify({ ...frame, id }) + "\n");
    return (await reply).frame;
  }

  closedPromise(timeoutMs = 15_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms; last frames ${JSON.stringify(this.frames.slice(-3))}`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  close() {
    if (!this.closed) this.socket.end();
  }

  /** Resets the connection (RST), as a crashed client would. */
  abort() {
    if (!this.closed) this.socket.terminate();
  }
}

let reqSeq = 0;

/** Resident memory of process `pid` in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** One sample of a Prometheus text page, 0 when absent. */
export async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** Polls `fn` until it returns something other than undefined. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await Bun.sleep(every);
  }
}

/** 12345 -> "12,345" for the figures the tests print. */
export const fmt = (n: number) => n.toLocaleString("en-US");
