/**
 * The process-wide pool the reference projects reach through a lazy singleton:
 * a thin accessor over createPool (STYLE.md "Construction and state"). Servers
 * that own their pool should call createPool and pass it along instead.
 */
import { poolOptionsFromUrl, type PoolOptions } from "./options.ts";
import { createPool, type Pool } from "./pool.ts";

let shared: Pool | undefined;

/**
 * Returns the process-wide pool, creating it on the first call from `options`,
 * or from the CHAT_MYSQL_URL environment variable when none are given. No
 * connection opens until the first lease. Options on a later call are a
 * mistake (they would be silently ignored), so they throw a TypeError.
 */
export function getPool(options?: PoolOptions): Pool {
  if (shared !== undefined) {
    if (options !== undefined) throw new TypeError("getPool(options): the pool already exists; pass options only on the first call");
    return shared;
  }
  if (options === undefined) {
    const url = process.env.CHAT_MYSQL_URL;
    if (!url) throw new TypeError("getPool(): no options given and CHAT_MYSQL_URL is not set");
    options = poolOptionsFromUrl(url);
  }
  shared = createPool(options);
  return shared;
}

/** Closes and forgets the process-wide pool (tests, shutdown); the next getPool() makes a new one. */
export async function resetPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  if (pool !== undefined) await pool.close();
}
