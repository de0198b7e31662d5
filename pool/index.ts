export { PoolClosedError, PoolTimeoutError } from "./errors.ts";
export { Lease } from "./lease.ts";
export {
  CONNECTION_DEFAULTS,
  POOL_DEFAULTS,
  parsePoolValue,
  poolOptionsFromConfig,
  poolOptionsFromUrl,
  resolvePoolOptions,
  type PoolConfig,
  type PoolKey,
  type PoolOptions,
  type PoolSettings,
} from "./options.ts";
export { endsConnection, lifetimeWithJitter } from "./health.ts";
export { createPool, type Pool } from "./pool.ts";
export { getPool, resetPool } from "./singleton.ts";
export { LEASE_WAIT_BUCKETS_MS, type PoolStats } from "./stats.ts";
