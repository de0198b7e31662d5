/**
 * What the store needs from a database: the pool's query methods. The store
 * owns all SQL, always with placeholders; nothing else in the server writes SQL.
 */
import type { Connection, ResultSetHeader, RowDataPacket } from "mysql2/promise";

export type { Connection };

// Parameters are whatever mysql2 escapes (numbers, strings, Buffers, null, arrays of them).
// biome-ignore lint/suspicious/noExplicitAny: mysql2's own parameter types are a union this interface need not restate
type Params = any;

export interface Db {
  execute(sql: string, params?: Params): Promise<[unknown, unknown]>;
  query(sql: string, params?: Params): Promise<[unknown, unknown]>;
  transaction<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
}

/** Connections on loan (the pool's leases, given back by `await using`), for work that holds one connection across several queries. */
export interface Leases {
  lease(): Promise<AsyncDisposable & { readonly conn: Connection }>;
}

/** Rows of a SELECT, typed by the caller. */
export async function rows<T>(db: Pick<Db, "execute"> | Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await (db as Pick<Db, "execute">).execute(sql, params);
  return r as RowDataPacket[] as unknown as T[];
}

/**
 * Rows of a statement whose placeholder count varies (IN lists, multi-row
 * VALUES): sent as a text query with driver-escaped placeholders, so the
 * server does not keep one prepared statement per list length.
 */
export async function queryRows<T>(db: Pick<Db, "query"> | Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await (db as Pick<Db, "query">).query(sql, params);
  return r as RowDataPacket[] as unknown as T[];
}

/** The header of a text query (see queryRows). */
export async function queryExec(db: Pick<Db, "query"> | Connection, sql: string, params: unknown[] = []): Promise<ResultSetHeader> {
  const [r] = await (db as Pick<Db, "query">).query(sql, params);
  return r as ResultSetHeader;
}

/** The header of an INSERT/UPDATE/DELETE. */
export async function exec(db: Pick<Db, "execute"> | Connection, sql: string, params: unknown[] = []): Promise<ResultSetHeader> {
  const [r] = await (db as Pick<Db, "execute">).execute(sql, params);
  return r as ResultSetHeader;
}

/** A duplicate key: the unique constraint said no. */
export function isDuplicate(e: unknown): boolean {
  return (e as { code?: string })?.code === "ER_DUP_ENTRY";
}

/** `?,?,?` for n placeholders. */
export function marks(n: number): string {
  return n === 1 ? "?" : "?,".repeat(n - 1) + "?";
}
