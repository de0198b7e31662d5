export { type HostAttempt, HostsUnavailableError, PoolClosedError, PoolTimeoutError } from "./errors.ts";
export { failoverDelay, notReady, probeOrder, READINESS_SQL, type HostTarget } from "./failover.ts";
export { isHostListUrl, joinHostListUrl, parseHost, splitHostListUrl, type HostAddress, type HostSpec } from "./hosts.ts";
export { Lease } from "./lease.ts";
export {
  CONNECTION_DEFAULTS,
  HOST_LIST_CONNECT_TIMEOUT,
  POOL_DEFAULTS,
  type FailoverEvent,
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
export { connectFirstReady } from "./connect-first.ts";
export { createPool, type Pool } from "./pool.ts";
export { getPool, resetPool } from "./singleton.ts";
export { LEASE_WAIT_BUCKETS_MS, type PoolStats } from "./stats.ts";
