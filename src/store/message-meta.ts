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

  constructor(options: MessageMetaOptions = {}) {
    this.#max = options.max ?? 100_000;
    if (!(this.#max >= 1)) throw new TypeError("MessageMeta: max must be at least 1");
  }

  get(mid: number): MessageParty | undefined {
    return this.#byMid.get(mid);
  }

  set(mid: number, party: MessageParty) {
    if (this.#byMid.size >= this.#max) {
      // A Map iterates in insertion order: the first key is the oldest.
      const oldest = this.#byMid.keys().next().value as number;
      this.#byMid.delete(oldest);
    }
    this.#byMid.set(mid, party);
  }

  get size(): number {
    return this.#byMid.size;
  }
}
