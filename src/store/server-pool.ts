/**
 * The server's MySQL pool: our pool, with every connection set to READ
 * COMMITTED. Under InnoDB's default REPEATABLE READ, the DELETEs of acks take
 * gap locks that collide with the INSERTs of new pending rows for the same
 * users and deadlock under load; READ COMMITTED locks only the rows it touches.
 */
import { createConnection } from "mysql2/promise";
import { createPool, type Pool, type PoolOptions } from "../../pool/index.ts";

export function createServerPool(options: PoolOptions): Pool {
  return createPool({
    ...options,
    createConnection: async (o) => {
      const conn = await createConnection(o);
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
