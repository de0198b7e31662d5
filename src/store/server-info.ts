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
 * InnoDB's lock modes 0 and 1, false for 2 (interleaved, which Galera
 * needs), and false whenever ids step by more than 1
 * (auto_increment_increment, which Galera's wsrep_auto_increment_control
 * sets to the cluster size unless turned off: deploy/galera/galera.cnf).
 */
export async function consecutiveInsertIds(db: Db): Promise<boolean> {
  const [r] = await rows<{ m: number; inc: number }>(db, "SELECT @@innodb_autoinc_lock_mode AS m, @@auto_increment_increment AS inc");
  return Number(r?.m) !== 2 && Number(r?.inc) === 1;
}
