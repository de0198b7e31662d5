/**
 * Failures of the database that pass: a connection lost, refused or timed
 * out, a server restarting or full, a Galera node out of the primary
 * component, a deadlock, a pool that could not lend a connection in time.
 * A request that meets one is answered `unavailable` (the client may try
 * again; with a cid a send is stored once); a node starting up waits them out.
 */
const PASSING = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_LOCK_WAIT_TIMEOUT",
  "ER_LOCK_DEADLOCK",
  "ER_UNKNOWN_COM_ERROR", // a Galera node out of the primary component ("WSREP has not yet prepared node")
  // A COMMIT that failed, so the transaction was rolled back: a Galera node that lost the primary
  // component while committing ("Error while appending streaming replication fragment(provider
  // status: Not connected to Primary Component)").
  "ER_ERROR_DURING_COMMIT",
  "pool_timeout",
  "pool_closed",
  "hosts_unavailable", // a host list where no host was ready: the pool is failing over, or all are down
]);

/** Whether an error code is one of a failure that passes. */
export function isPassingCode(code: string): boolean {
  return PASSING.has(code);
}

/** Whether `e` is a failure that passes: a passing code, or anything mysql2 marks fatal (the connection is gone). */
export function isPassingFailure(e: unknown): boolean {
  const err = e as { code?: string; fatal?: boolean } | undefined;
  if (!err) return false;
  return err.fatal === true || PASSING.has(err.code ?? "");
}
