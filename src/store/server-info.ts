import { type Db, rows } from "./db.ts";

/** A trivial round trip: does MySQL answer? */
export async function ping(db: Db): Promise<void> {
  await db.query("SELECT 1");
}

/** Whether MySQL answers a trivial query within `ms` (for /healthz and chat_mysql_up). */
export async function answersWithin(db: Db, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      ping(db).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
  } catch {
    return false; // any failure of the probe is "down"; the reason is in the server's own logs
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether one multi-row INSERT gets consecutive auto-increment ids: true for
 * InnoDB's lock modes 0 and 1, false for 2 (interleaved).
 */
export async function consecutiveInsertIds(db: Db): Promise<boolean> {
  const [r] = await rows<{ m: number }>(db, "SELECT @@innodb_autoinc_lock_mode AS m");
  return Number(r?.m) !== 2;
}
