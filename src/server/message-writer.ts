/**
 * The one writer of messages and acks. Concurrent sends and acks from every
 * connection share a group commit: one transaction and one fsync per batch,
 * and their replies and pushes go out in the same event-loop turn (one socket
 * write per connection where two commits made two).
 */
import type { Db } from "../store/db.ts";
import { ackPending, type NewMessage, storeMessages } from "../store/messages.ts";
import { withRetry } from "../store/server-pool.ts";
import { GroupCommit } from "./group-commit.ts";
import type { Metrics } from "./metrics.ts";

export interface MessageWriterOptions {
  /** Whether a multi-row INSERT gets consecutive ids (InnoDB autoinc lock mode 0/1). Default true. */
  consecutiveIds?: boolean;
  /** Most messages and acks in one transaction. Default 500. */
  maxBatch?: number;
}

/** One item of a group commit: a message to store or an ack to apply. */
type Write = { message: NewMessage; ack?: undefined } | { ack: { user: number; mids: number[] }; message?: undefined };

export class MessageWriter {
  readonly #commits: GroupCommit<Write, number>;

  constructor(db: Db, metrics: Metrics, options: MessageWriterOptions = {}) {
    const consecutive = options.consecutiveIds ?? true;
    this.#commits = new GroupCommit<Write, number>(
      async (batch) => {
        const stored: NewMessage[] = [];
        const acked: { user: number; mids: number[] }[] = [];
        for (const w of batch) {
          if (w.message) stored.push(w.message);
          else acked.push(w.ack);
        }
        const { mids, pending, removed } = await withRetry(() =>
          db.transaction(async (conn) => ({
            ...(stored.length > 0 ? await storeMessages(conn, stored, consecutive) : { mids: [], pending: 0 }),
            removed: acked.length > 0 ? await ackPending(conn, acked) : [],
          })),
        );
        metrics.committed({ stored: stored.length, pending, acked: removed.reduce((x, y) => x + y, 0) });
        let m = 0;
        let a = 0;
        return batch.map((w) => (w.message ? (mids[m++] as number) : (removed[a++] as number)));
      },
      { maxBatch: options.maxBatch ?? 500, onBatch: (n, ms) => metrics.groupCommit(n, ms / 1000) },
    );
    metrics.watch({ messageQueue: () => this.#commits.backlog.queued });
  }

  /** Stores a message with its pending rows; resolves to its mid once committed. */
  store(message: NewMessage): Promise<number> {
    return this.#commits.submit({ message });
  }

  /** Removes `user`'s pending rows for `mids`; resolves to how many were pending. */
  ack(user: number, mids: number[]): Promise<number> {
    return this.#commits.submit({ ack: { user, mids } });
  }

  /** Resolves once everything submitted so far is written (or failed). */
  drained(): Promise<void> {
    return this.#commits.drained();
  }
}
