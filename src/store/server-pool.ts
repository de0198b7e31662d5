/**
 * The server's MySQL pool: our pool, with every connection set to READ
 * COMMITTED. Under InnoDB's default REPEATABLE READ, the DELETEs of acks take
 * gap locks that collide with the INSERTs of new pending rows for the same
 * users and deadlock under load; READ COMMITTED locks only the rows it touches.
 */
import { type Connection, createConnection } from "mysql2/promise";
import { createPool, type Pool, type PoolOptions } from "../../pool/index.ts";

/** Statement timeout when none is given, ms. */
export const DEFAULT_STATEMENT_TIMEOUT = 5000;

/**
 * `statementTimeout` (ms, default 5000): a statement MySQL has not answered by
 * then fails as unavailable and its connection is closed. Without it a frozen
 * or partitioned database holds every request that has a connection until TCP
 * gives up, minutes later.
 */
export function createServerPool(options: PoolOptions, statementTimeout = DEFAULT_STATEMENT_TIMEOUT): Pool {
  return createPool({
    ...options,
    createConnection: async (o) => {
      const conn = withStatementTimeout(await createConnection(o), statementTimeout);
      try {
        await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
      } catch (e) {
        conn.destroy();
        throw e;
      }
      return conn;
    },
  });
}

/**
 * The message writer's own connections: they take several statements per
 * query (`multipleStatements`), so that a group commit is two round trips
 * instead of one per statement (src/store/write-batch.ts). Only the writer
 * gets them: everywhere else one query is one statement. One batch is written
 * at a time; the second connection stands by while a broken one is replaced.
 */
export function createWriterPool(options: PoolOptions, statementTimeout = DEFAULT_STATEMENT_TIMEOUT): Pool {
  return createServerPool({ ...options, multipleStatements: true, initSize: 1, maxSize: 2 }, statementTimeout);
}

/**
 * Makes `query` and `execute` give up after `ms`: the connection is destroyed
 * (its command cannot be taken back) and the call rejects with a fatal error,
 * so the pool never lends that connection again.
 */
function withStatementTimeout(conn: Connection, ms: number): Connection {
  if (!(ms > 0)) return conn;
  for (const method of ["query", "execute"] as const) {
    const original = conn[method].bind(conn) as (...args: unknown[]) => Promise<unknown>;
    (conn as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          conn.destroy();
          reject(Object.assign(new Error(`MySQL did not answer within ${ms} ms`), { code: "ETIMEDOUT", fatal: true }));
        }, ms);
      });
      return Promise.race([original(...args), expired]).finally(() => clearTimeout(timer));
    };
  }
  return conn;
}

/** Deadlocks and lock-wait timeouts roll the whole transaction back: running it again is safe. */
function retryable(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === "ER_LOCK_DEADLOCK" || code === "ER_LOCK_WAIT_TIMEOUT";
}

/** Runs a transaction, again (up to `attempts` times in all) when InnoDB chose it as a deadlock victim. */
export async function withRetry<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (e) {
      if (i >= attempts || !retryable(e)) throw e;
    }
  }
}
