/**
 * Login tokens: 256 random bits, base64url. Only their SHA-256 is stored, so
 * the table leaks nothing usable.
 */
import { type Db, exec, queryExec, rows } from "./db.ts";

function hash(token: string): Buffer {
  return new Bun.CryptoHasher("sha256").update(token).digest() as Buffer;
}

export async function issueToken(db: Db, user: number, ttlMs: number): Promise<string> {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  await exec(db, "INSERT INTO tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)", [hash(token), user, Date.now() + ttlMs]);
  return token;
}

/**
 * The user a live token belongs to, unless that user is banned: a ban revokes
 * the user's tokens, but a login that was under way may have issued one after.
 */
export async function tokenUser(db: Db, token: string): Promise<number | undefined> {
  const r = await rows<{ user_id: number }>(
    db,
    "SELECT t.user_id FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.expires_at > ? AND u.banned_at IS NULL",
    [hash(token), Date.now()],
  );
  return r[0]?.user_id;
}

/** Revokes every token of `user`; returns how many there were. */
export async function revokeUserTokens(db: Db, user: number): Promise<number> {
  return (await exec(db, "DELETE FROM tokens WHERE user_id = ?", [user])).affectedRows;
}

export async function revokeTokens(db: Db, tokens: string[]): Promise<void> {
  if (tokens.length === 0) return;
  await queryExec(db, `DELETE FROM tokens WHERE token_hash IN (${"?,".repeat(tokens.length - 1)}?)`, tokens.map(hash));
}

/** Deletes expired tokens, at most `limit` at a time. */
export async function purgeExpiredTokens(db: Db, limit = 1000): Promise<number> {
  return (await exec(db, "DELETE FROM tokens WHERE expires_at <= ? LIMIT ?", [Date.now(), String(limit)])).affectedRows;
}
