/**
 * The bookkeeping of sends under faults, shared by the fault tests and the HA
 * lab: what the senders were promised, what reached the recipients and what
 * the server stored, and from that what was lost and what was duplicated.
 *
 * A logical message is known by its text, which the senders make unique (and
 * the raw-protocol senders also use as its `cid`). A sender attaches the same
 * cid to every attempt of one message and tries again after a lost
 * connection or `unavailable` until it gets `ok`; only then is the message
 * accepted: the server promised it. So:
 * - lost: accepted, and its mid never reached its recipient;
 * - duplicated: one text seen under two mids (delivered or stored), or under
 *   a mid other than the one its `ok` named: the server stored it twice;
 * - re-sent: accepted after more than one attempt; of those, "already
 *   stored" were answered `duplicate: true`: the first attempt had been
 *   stored and its reply lost, the case cid exists for.
 */

/** A message that got `ok`. */
export interface Accepted<To = unknown> {
  /** the message's text: its identity */
  text: string;
  mid: number;
  /** who must receive it (compared by identity with `saw`'s `by`) */
  to: To;
  /** how many times it was sent, the accepted one included */
  attempts: number;
  /** the `ok` said `duplicate: true` */
  duplicate: boolean;
  /** when the `ok` arrived (performance.now() or Date.now(), as the caller keeps time) */
  at: number;
}

/** A copy of a message: a `msg` body, a `history` entry, a row of the messages table. */
export interface Copy {
  mid: number;
  text?: unknown;
}

export interface Tally<To = unknown> {
  accepted: number;
  delivered: number;
  lost: Accepted<To>[];
  /** texts stored or delivered more than once, or under another mid than their ok's */
  duplicated: string[];
  /** accepted after more than one attempt */
  resent: number;
  /** of those, answered `duplicate: true` */
  alreadyStored: number;
  /** attempts beyond the first, summed over every accepted message */
  extraAttempts: number;
  /** messages given up on (never got `ok`): not accepted, so not counted above */
  abandoned: number;
}

export class SendLedger<To = unknown> {
  readonly accepted: Accepted<To>[] = [];
  /** Why each message that never got `ok` was given up. */
  readonly abandoned: string[] = [];
  /** text -> mid -> who held a copy ("stored" for the database or history) */
  readonly #copies = new Map<string, Map<number, Set<unknown>>>();

  accept(a: Accepted<To>): void {
    this.accepted.push(a);
  }

  abandon(text: string, why: string): void {
    this.abandoned.push(`${text}: ${why}`);
  }

  /** `by` received `copy` (a `msg` body); copies whose text is not a string are not ours and are ignored. */
  saw(copy: Copy, by: unknown): void {
    if (typeof copy.text !== "string") return;
    let mids = this.#copies.get(copy.text);
    if (!mids) this.#copies.set(copy.text, (mids = new Map()));
    let holders = mids.get(copy.mid);
    if (!holders) mids.set(copy.mid, (holders = new Set()));
    holders.add(by);
  }

  /** The server holds `copy` (a row of the messages table, a `history` entry). */
  stored(copy: Copy): void {
    this.saw(copy, STORED);
  }

  /** Whether `a` reached its recipient. */
  delivered(a: Accepted<To>): boolean {
    const holders = this.#copies.get(a.text)?.get(a.mid);
    return !!holders && holders.has(a.to);
  }

  tally(): Tally<To> {
    const lost = this.accepted.filter((a) => !this.delivered(a));
    const duplicated = new Set<string>();
    // Several entries may share a text (a group message counted per member): same mid each.
    const okMid = new Map<string, number>();
    for (const a of this.accepted) {
      const seen = okMid.get(a.text);
      if (seen !== undefined && seen !== a.mid) duplicated.add(a.text);
      okMid.set(a.text, a.mid);
    }
    for (const [text, mids] of this.#copies) {
      const mid = okMid.get(text);
      if (mid === undefined) continue; // not a message of this run's accepted ones
      if (mids.size > 1 || !mids.has(mid)) duplicated.add(text);
    }
    const resent = this.accepted.filter((a) => a.attempts > 1);
    return {
      accepted: this.accepted.length,
      delivered: this.accepted.length - lost.length,
      lost,
      duplicated: [...duplicated],
      resent: resent.length,
      alreadyStored: resent.filter((a) => a.duplicate).length,
      extraAttempts: resent.reduce((n, a) => n + a.attempts - 1, 0),
      abandoned: this.abandoned.length,
    };
  }
}

/** Who holds the copies the server stored. */
const STORED = Symbol("stored");

/** "N accepted, N delivered, 0 lost, 0 duplicated, K re-sent (A attempts) of which J were already stored". */
export function describeTally(t: Tally<unknown>, fmt: (n: number) => string = (n) => n.toLocaleString("en-US")): string {
  const resent = t.resent
    ? `${fmt(t.resent)} re-sent (${fmt(t.extraAttempts)} repeat attempts) of which ${fmt(t.alreadyStored)} were already stored (duplicate: true)`
    : "0 re-sent";
  const abandoned = t.abandoned ? `, ${fmt(t.abandoned)} given up without ok` : "";
  return `${fmt(t.accepted)} accepted, ${fmt(t.delivered)} delivered, ${fmt(t.lost.length)} lost, ${fmt(t.duplicated.length)} duplicated, ${resent}${abandoned}`;
}
