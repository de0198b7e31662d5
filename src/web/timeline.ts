/**
 * One conversation's messages as the web client shows them: stored messages
 * in `mid` order, then this user's messages still on their way (by `cid`,
 * in the order they were written). A stored message replaces the pending one
 * with its cid, and a `mid` seen twice (delivery is at least once) is kept once.
 */
import type { ChatMessage } from "../client/types.ts";

export type SendStatus = "sending" | "sent" | "failed";

export interface Shown {
  mid?: number;
  cid?: string;
  from: number;
  name: string;
  text: string;
  /** server time once stored; the local time while pending */
  ts: number;
  edited?: number;
  deleted?: number;
  status: SendStatus;
  /** local time the server's `ok` came (own messages sent from this page) */
  okAt?: number;
  /** why a send failed */
  error?: string;
}

export class Timeline {
  #stored: Shown[] = [];
  #pending: Shown[] = [];
  /** the first page was fetched (history), so what is shown reaches the newest message */
  loaded = false;
  /** no older messages exist than the first one shown */
  complete = false;
  loadingOlder = false;

  /** Everything shown, oldest first. */
  all(): Shown[] {
    return [...this.#stored, ...this.#pending];
  }

  get oldestMid(): number | undefined {
    return this.#stored[0]?.mid;
  }

  get newestMid(): number | undefined {
    return this.#stored.at(-1)?.mid;
  }

  /** Adds (or updates) stored messages; returns whether anything changed. */
  addStored(messages: ChatMessage[]): boolean {
    let changed = false;
    for (const m of messages) changed = this.#addOne(m) || changed;
    return changed;
  }

  #addOne(m: ChatMessage): boolean {
    if (m.cid !== undefined) {
      const i = this.#pending.findIndex((p) => p.cid === m.cid);
      if (i >= 0) this.#pending.splice(i, 1);
    }
    const shown: Shown = {
      mid: m.mid,
      cid: m.cid,
      from: m.from,
      name: m.name,
      text: m.text,
      ts: m.ts,
      edited: m.edited,
      deleted: m.deleted,
      status: "sent",
    };
    const at = this.#indexOf(m.mid);
    const existing = this.#stored[at];
    if (existing && existing.mid === m.mid) {
      // A replay or a page fetched again: keep what is known to be newer.
      if (existing.deleted !== undefined && m.deleted === undefined) return false;
      if ((existing.edited ?? 0) > (m.edited ?? 0)) return false;
      this.#stored[at] = { ...shown, okAt: existing.okAt };
      return existing.text !== m.text || existing.deleted !== m.deleted || existing.edited !== m.edited;
    }
    this.#stored.splice(at, 0, shown);
    return true;
  }

  /** Where `mid` is or would go (binary search: messages arrive mostly at the end, pages at the start). */
  #indexOf(mid: number): number {
    let lo = 0;
    let hi = this.#stored.length;
    while (lo < hi) {
      const mid2 = (lo + hi) >> 1;
      if (this.#stored[mid2]!.mid! < mid) lo = mid2 + 1;
      else hi = mid2;
    }
    return lo;
  }

  addPending(p: Shown): void {
    this.#pending.push(p);
  }

  /** This user's messages not stored yet, in the order written. */
  unsent(): Shown[] {
    return [...this.#pending];
  }

  /** Forgets a pending message (one the user gave up on). */
  drop(cid: string): boolean {
    const i = this.#pending.findIndex((p) => p.cid === cid);
    if (i >= 0) this.#pending.splice(i, 1);
    return i >= 0;
  }

  pending(cid: string): Shown | undefined {
    return this.#pending.find((p) => p.cid === cid);
  }

  /** The `ok` of a send: the pending message is stored now. */
  confirm(cid: string, mid: number, ts: number): void {
    const p = this.pending(cid);
    if (!p) return;
    this.#addOne({ mid, cid, from: p.from, name: p.name, text: p.text, ts });
    const stored = this.byMid(mid);
    if (stored) stored.okAt = Date.now();
  }

  byMid(mid: number): Shown | undefined {
    const s = this.#stored[this.#indexOf(mid)];
    return s && s.mid === mid ? s : undefined;
  }

  edit(mid: number, text: string, edited: number): boolean {
    const s = this.byMid(mid);
    if (!s || s.deleted !== undefined) return false;
    s.text = text;
    s.edited = edited;
    return true;
  }

  delete(mid: number, deleted: number): boolean {
    const s = this.byMid(mid);
    if (!s) return false;
    s.text = "";
    s.deleted = deleted;
    return true;
  }
}
