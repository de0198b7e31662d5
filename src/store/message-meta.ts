/**
 * Who recently stored messages are between, by mid: what an ack needs to
 * find each acked mid's conversation without asking MariaDB. A message's
 * sender, recipient and group never change once it is stored, so an entry
 * is never stale; a mid it does not hold (stored by another node, or long
 * ago) is looked up in the batch as before. Bounded: the oldest entries go
 * first, and acks come within seconds of their messages.
 */
export interface MessageParty {
  sender: number;
  recipient: number | null;
  group: number | null;
}

export interface MessageMetaOptions {
  /** Most mids held. Default 100,000 (about 10 MB). */
  max?: number;
}

export class MessageMeta {
  readonly #max: number;
  readonly #byMid = new Map<number, MessageParty>();
  /**
   * The mids held, oldest first from #next, round: which one goes when the
   * map is full. Not the map's own first key: a Map that has lost its first
   * entries to delete() walks past their empty slots to find the next one,
   * which made every set of a full map cost a scan.
   */
  readonly #order: number[] = [];
  #next = 0;

  constructor(options: MessageMetaOptions = {}) {
    this.#max = options.max ?? 100_000;
    if (!(this.#max >= 1)) throw new TypeError("MessageMeta: max must be at least 1");
  }

  get(mid: number): MessageParty | undefined {
    return this.#byMid.get(mid);
  }

  set(mid: number, party: MessageParty) {
    if (this.#byMid.has(mid)) return void this.#byMid.set(mid, party);
    if (this.#order.length < this.#max) this.#order.push(mid);
    else {
      this.#byMid.delete(this.#order[this.#next] as number);
      this.#order[this.#next] = mid;
      this.#next = (this.#next + 1) % this.#max;
    }
    this.#byMid.set(mid, party);
  }

  get size(): number {
    return this.#byMid.size;
  }
}
