import { describe, expect, it } from "bun:test";
import { isPassingFailure } from "../../src/store/passing-failures.ts";

const mysqlError = (code: string, errno: number, message: string) => Object.assign(new Error(message), { code, errno });

describe("which failures a client may try again (unavailable, not internal)", () => {
  it("a Galera node that lost the primary component, before a query or while committing", () => {
    expect(isPassingFailure(mysqlError("ER_UNKNOWN_COM_ERROR", 1047, "WSREP has not yet prepared node for application use"))).toBe(true);
    expect(
      isPassingFailure(
        mysqlError("ER_ERROR_DURING_COMMIT", 1180, "Error while appending streaming replication fragment(provider status: Not connected to Primary Component)"),
      ),
    ).toBe(true);
  });

  it("a lost connection, a deadlock, a pool that gave up waiting", () => {
    expect(isPassingFailure(Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true }))).toBe(true);
    expect(isPassingFailure(mysqlError("ER_LOCK_DEADLOCK", 1213, "Deadlock found"))).toBe(true);
    expect(isPassingFailure(Object.assign(new Error("timed out"), { code: "pool_timeout" }))).toBe(true);
  });

  it("not a mistake in a statement, nor a plain bug", () => {
    expect(isPassingFailure(mysqlError("ER_PARSE_ERROR", 1064, "You have an error in your SQL syntax"))).toBe(false);
    expect(isPassingFailure(new TypeError("x is undefined"))).toBe(false);
    expect(isPassingFailure(undefined)).toBe(false);
  });
});
