/**
 * Cross-node message order for one hub.
 *
 * Each node pushes its own messages in mid order (one group commit after
 * another), and Redis hands one publisher's messages to a subscriber in the
 * order they were published: from each node, mids reach this hub in
 * increasing order. But two nodes committing messages of one conversation at
 * once may have their pushes cross on the way here. While a conversation's
 * messages come from more than one node, a push waits until every other node
 * feeding it has shown a larger mid (so nothing smaller can still come from
 * there), at most `windowMs`. One that still comes too late is not pushed
 * (Session) and waits for the next login.
 */
import type { MsgRef } from "../cluster/envelope.ts";

/** Time and timers, injected so that tests drive the buffer without waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` after the current synchronous work (a microtask in production). */
  soon(fn: () => void): void;
}

const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  soon: queueMicrotask,
};

export interface ReorderOptions {
  /** Longest wait of a held push, ms; 0 turns holding off. Default 50. */
  windowMs?: number;
  /** How long a node still counts as feeding a conversation after its last message there, ms. Default 10 s. */
  mixedForMs?: number;
  clock?: Clock;
  /** A held push threw: logged, and the pushes behind it still go. */
  onError?: (e: unknown) => void;
}

const DEFAULTS = { windowMs: 50, mixedForMs: 10_000 } satisfies ReorderOptions;

interface Held {
  mid: number;
  origin: string;
  at: number;
  run: () => void;
}

/** Per conversation: the nodes its messages came from lately (with when), and the pushes waiting their turn. */
interface Conversation {
  origins: Map<string, number>;
  held: Held[];
}

export class ReorderBuffer {
  readonly #windowMs: number;
  readonly #mixedForMs: number;
  readonly #clock: Clock;
  readonly #onError: (e: unknown) => void;
  readonly #conversations = new Map<string, Conversation>();
  readonly #waiting = new Set<Conversation>();
  /** Per node, the largest mid seen from it. */
  readonly #highest = new Map<string, number>();
  #timer: unknown;
  #releaseQueued = false;
  #swept: number;

  constructor(options: ReorderOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    if (!(o.windowMs >= 0)) throw new TypeError("windowMs must be 0 or more");
    this.#windowMs = o.windowMs;
    this.#mixedForMs = o.mixedForMs;
    this.#clock = options.clock ?? realClock;
    this.#onError = options.onError ?? (() => {});
    this.#swept = this.#clock.now();
  }

  /** Pushes waiting their turn, across conversations. */
  get held(): number {
    let n = 0;
    for (const c of this.#waiting) n += c.held.length;
    return n;
  }

  /**
   * A message from `origin` arrived. `run` (its pushes) runs now, or later in
   * mid order when its conversation is fed by several nodes; without `run`
   * (nobody here to push to) the message still counts as progress of `origin`.
   */
  deliver(origin: string, msg: MsgRef, run?: () => void) {
    this.#progress(origin, msg.mid);
    if (!run) return;
    if (!this.#mustWait(msg.conv, origin)) return run();
    this.#hold(msg, origin, run);
  }

  /** Drops every held push and timer (shutdown). */
  close() {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting.clear();
    this.#conversations.clear();
  }

  /** A message from `origin` with this mid: held pushes that waited for it may go. */
  #progress(origin: string, mid: number) {
    if (mid <= (this.#highest.get(origin) ?? 0)) return;
    this.#highest.set(origin, mid);
    if (this.#waiting.size > 0 && !this.#releaseQueued) {
      this.#releaseQueued = true;
      this.#clock.soon(() => {
        this.#releaseQueued = false;
        this.#release();
      });
    }
  }

  /** Notes where a message came from; true when its push must wait its turn. */
  #mustWait(conv: string, origin: string): boolean {
    if (this.#windowMs === 0) return false;
    const now = this.#clock.now();
    let c = this.#conversations.get(conv);
    if (!c) this.#conversations.set(conv, (c = { origins: new Map(), held: [] }));
    c.origins.set(origin, now);
    if (c.origins.size > 1) for (const [n, at] of c.origins) if (now - at > this.#mixedForMs) c.origins.delete(n);
    if (now - this.#swept > this.#mixedForMs) this.#sweep(now);
    return c.origins.size > 1 || c.held.length > 0;
  }

  #hold(msg: MsgRef, origin: string, run: () => void) {
    const c = this.#conversations.get(msg.conv) as Conversation;
    let i = c.held.length;
    while (i > 0 && (c.held[i - 1] as Held).mid > msg.mid) i--;
    c.held.splice(i, 0, { mid: msg.mid, origin, at: this.#clock.now(), run });
    this.#waiting.add(c);
    this.#release();
  }

  /** Whether every other node feeding the conversation has shown a mid above `mid`. */
  #nothingSmallerToCome(c: Conversation, mid: number, origin: string): boolean {
    for (const n of c.origins.keys()) if (n !== origin && (this.#highest.get(n) ?? 0) < mid) return false;
    return true;
  }

  /** Pushes, in mid order, every held message whose turn has come or whose wait is over. */
  #release() {
    const now = this.#clock.now();
    for (const c of this.#waiting) {
      for (let h = c.held[0]; h && (h.at + this.#windowMs <= now || this.#nothingSmallerToCome(c, h.mid, h.origin)); h = c.held[0]) {
        c.held.shift();
        try {
          h.run();
        } catch (e) {
          this.#onError(e); // one message's push, not the others behind it
        }
      }
      if (c.held.length === 0) this.#waiting.delete(c);
    }
    if (this.#waiting.size === 0) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    } else
      this.#timer ??= this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#release();
      }, Math.max(1, this.#windowMs / 4));
  }

  /** Forgets conversations with no message here for a while. */
  #sweep(now: number) {
    this.#swept = now;
    for (const [conv, c] of this.#conversations)
      if (c.held.length === 0 && now - Math.max(...c.origins.values()) > this.#mixedForMs) this.#conversations.delete(conv);
  }
}
