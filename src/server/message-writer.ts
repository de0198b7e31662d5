/**
 * The one writer of messages and acks. Concurrent sends and acks from every
 * connection share a group commit: one transaction and one fsync per batch,
 * and their replies and pushes go out in the same event-loop turn (one socket
 * write per connection where two commits made two).
 */
import type { Leases } from "../store/db.ts";
import { MessageMeta } from "../store/message-meta.ts";
import type { NewMessage } from "../store/messages.ts";
import { withRetry } from "../store/server-pool.ts";
import { isCidRace, type ReadRequest, type ReadResult, type StoredMessage, writeBatch } from "../store/write-batch.ts";
import { GroupCommit } from "./group-commit.ts";
import type { Metrics } from "./metrics.ts";

export interface MessageWriterOptions {
  /** Whether a multi-row INSERT gets consecutive ids (InnoDB autoinc lock mode 0/1). Default true. */
  consecutiveIds?: boolean;
  /** Most messages and acks in one transaction. Default 500. */
  maxBatch?: number;
}

/** One item of a group commit: a message to store or an ack to apply. */
type Write =
  | { message: NewMessage; ack?: undefined; read?: undefined }
  | { ack: { user: number; mids: number[] }; message?: undefined; read?: undefined }
  | { read: ReadRequest; message?: undefined; ack?: undefined };
type Written = StoredMessage | number | ReadResult;

export class MessageWriter {
  readonly #commits: GroupCommit<Write, Written>;

  /** `db` lends connections that take several statements per query (see createWriterPool). */
  constructor(db: Leases, metrics: Metrics, options: MessageWriterOptions = {}) {
    const consecutive = options.consecutiveIds ?? true;
    // Acks name mids only: the conversations of the mids this writer stored, without a lookup.
    const meta = new MessageMeta();
    this.#commits = new GroupCommit<Write, Written>(
      async (batch) => {
        const stored: NewMessage[] = [];
        const acked: { user: number; mids: number[] }[] = [];
        const reads: ReadRequest[] = [];
        for (const w of batch) {
          if (w.message) stored.push(w.message);
          else if (w.ack) acked.push(w.ack);
          else reads.push(w.read);
        }
        const result = await writeWithRetry(() =>
          withRetry(async () => {
            await using lease = await db.lease();
            return await writeBatch(lease.conn, stored, acked, reads, consecutive, meta);
          }),
        );
        result.messages.forEach((m, i) => {
          const s = stored[i] as NewMessage;
          if (!m.duplicate && !m.groupGone) meta.set(m.mid, { sender: s.from, recipient: s.to ?? null, group: s.group ?? null });
        });
        const fresh = result.messages.filter((m) => !m.duplicate && !m.groupGone).length;
        metrics.committed({ stored: fresh, duplicates: stored.length - fresh, acked: result.acked.reduce((x, y) => x + y, 0) });
        let m = 0;
        let a = 0;
        let r = 0;
        return batch.map((w) => (w.message ? (result.messages[m++] as StoredMessage) : w.ack ? (result.acked[a++] as number) : (result.reads[r++] as ReadResult)));
      },
      { maxBatch: options.maxBatch ?? 500, onBatch: (n, ms) => metrics.groupCommit(n, ms / 1000) },
    );
    metrics.watch({ messageQueue: () => this.#commits.backlog.queued });
  }

  /**
   * Stores a message; resolves once committed to its mid and ts, or, when
   * its sender already has a message with its cid, to that one's (duplicate).
   */
  store(message: NewMessage): Promise<StoredMessage> {
    return this.#commits.submit({ message }) as Promise<StoredMessage>;
  }

  /** Marks `mids` delivered to `user`; resolves to how many were pending. */
  ack(user: number, mids: number[]): Promise<number> {
    return this.#commits.submit({ ack: { user, mids } }) as Promise<number>;
  }

  /** Moves `read.user`'s read position in a conversation (and delivers what it covers); resolves to where it is now. */
  read(read: ReadRequest): Promise<ReadResult> {
    return this.#commits.submit({ read }) as Promise<ReadResult>;
  }

  /** Resolves once everything submitted so far is written (or failed). */
  drained(): Promise<void> {
    return this.#commits.drained();
  }
}

/** A batch whose cid another node stored at the same moment runs again: it then finds that message stored. */
async function writeWithRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (attempt >= 3 || !isCidRace(e)) throw e;
    }
  }
}
