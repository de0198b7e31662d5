import { type Db, exec, isDuplicate, marks, queryRows, rows } from "./db.ts";

export interface UserRow {
  id: number;
  name: string;
}

export interface Credentials extends UserRow {
  password_hash: string;
  /** An operator banned the account (`chat admin ban`): no login may succeed. */
  banned: boolean;
}

/** A deleted account has no credentials: no name, no hash (sql/006_account_deletion.sql). */
const CREDENTIALS = "SELECT id, name, password_hash, banned_at IS NOT NULL AS banned FROM users WHERE deleted_at IS NULL AND";

function credentials(r: (Omit<Credentials, "banned"> & { banned: number }) | undefined): Credentials | undefined {
  return r && { id: r.id, name: r.name, password_hash: r.password_hash, banned: Number(r.banned) === 1 };
}

/** Inserts a user; `undefined` when the name is taken. */
export async function createUser(db: Db, name: string, passwordHash: string): Promise<number | undefined> {
  try {
    const r = await exec(db, "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)", [name, passwordHash, Date.now()]);
    return r.insertId;
  } catch (e) {
    if (isDuplicate(e)) return undefined;
    throw e;
  }
}

export async function credentialsByName(db: Db, name: string): Promise<Credentials | undefined> {
  // utf8mb4_bin is a PAD SPACE collation: "alice " = "alice" in SQL. Names are
  // exact, so compare again here (this also rejects a name whose unpaired
  // surrogate the driver sent as U+FFFD).
  const r = (await rows<Omit<Credentials, "banned"> & { banned: number }>(db, `${CREDENTIALS} name = ?`, [name]))[0];
  return r?.name === name ? credentials(r) : undefined;
}

export async function credentialsById(db: Db, id: number): Promise<Credentials | undefined> {
  return credentials((await rows<Omit<Credentials, "banned"> & { banned: number }>(db, `${CREDENTIALS} id = ?`, [id]))[0]);
}

/** The user with exactly this name (see credentialsByName on why the name is compared again). */
export async function userByName(db: Db, name: string): Promise<UserRow | undefined> {
  const r = (await rows<UserRow>(db, "SELECT id, name FROM users WHERE name = ?", [name]))[0];
  return r?.name === name ? r : undefined;
}

export async function userById(db: Db, id: number): Promise<UserRow | undefined> {
  return (await rows<UserRow>(db, "SELECT id, name FROM users WHERE id = ? AND deleted_at IS NULL", [id]))[0];
}

