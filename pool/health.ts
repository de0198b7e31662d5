/** What the pool decides about a connection's health and lifetime. */

/** A connection's lifetime: maxLifetime less a random 0-2.5%, so a batch opened together does not expire together. */
export function lifetimeWithJitter(maxLifetime: number, random: () => number = Math.random): number {
  if (maxLifetime === 0 || maxLifetime === Infinity) return Infinity;
  return maxLifetime - maxLifetime * 0.025 * random();
}

/**
 * Server error numbers that end the session although mysql2 does not mark them
 * fatal: the ERR packet arrives before the socket closes, so without this a
 * connection could go back to the idle stack in between.
 */
const SESSION_ENDED = new Set([
  // ER_UNKNOWN_COM_ERROR: what a Galera node answers every query with once it
  // has left the primary component ("WSREP has not yet prepared node for
  // application use"). The session lives on but can do nothing until the node
  // rejoins: closing it lets a host list move to a node that can.
  1047,
  1053, // ER_SERVER_SHUTDOWN
  1152, // ER_ABORTING_CONNECTION
  1927, // ER_CONNECTION_KILLED (MariaDB: KILL <id>)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: wait_timeout)
]);

/** Whether a query error means the connection is unusable (HikariCP's checkException, for mysql2). */
export function endsConnection(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { fatal?: unknown; errno?: unknown; sqlState?: unknown };
  if (e.fatal === true) return true; // mysql2: network, protocol and closed-connection errors
  if (typeof e.errno === "number" && SESSION_ENDED.has(e.errno)) return true;
  return typeof e.sqlState === "string" && e.sqlState.startsWith("08"); // SQL standard: connection exception
}
