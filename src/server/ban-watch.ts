/**
 * The second way a ban reaches a node. `chat admin ban` tells every node
 * through Redis at once; a node it cannot tell that way (Redis down or not
 * configured, a message lost) or a login that was under way as the ban came
 * would leave a banned user's session open. So every node asks the database,
 * every `intervalMs`, for the users banned since it last asked (with a
 * margin for logins in flight), and ends their sessions here.
 */
import type { Logger } from "../log.ts";
import { bannedSince, databaseNow } from "../store/bans.ts";
import type { Db } from "../store/db.ts";

/** Bans this old are looked at again: a login takes far less, even with slow statements. */
const MARGIN_MS = 60_000;

export interface BanWatchOptions {
  db: Db;
  log: Logger;
  intervalMs: number;
  /** Ends the sessions of `user` on this node; resolves to how many there were. */
  endUser(user: number): Promise<number>;
  /** Whether `user` has a session on this node. */
  isLocal(user: number): boolean;
}

export class BanWatch {
  readonly #o: BanWatchOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The database's clock at the start of the last check that worked. */
  #since: number | undefined;
  #failing = false;
  #running = false;

  constructor(o: BanWatchOptions) {
    this.#o = o;
  }

  start() {
    if (this.#o.intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.check(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** One look at the database; resolves to how many sessions it ended here. */
  async check(): Promise<number> {
    if (this.#running) return 0; // a slow database: the one under way covers this turn
    this.#running = true;
    try {
      const now = await databaseNow(this.#o.db);
      // The first look starts from now: a ban older than this node has no session here.
      const from = (this.#since ?? now) - MARGIN_MS;
      const users = await bannedSince(this.#o.db, from);
      this.#since = now;
      if (this.#failing) this.#o.log.info("ban_check_ok", {});
      this.#failing = false;
      let ended = 0;
      for (const user of users) if (this.#o.isLocal(user)) ended += await this.#o.endUser(user);
      return ended;
    } catch (e) {
      // One line per outage, not one per check; the next check covers this one's bans (#since did not move).
      if (!this.#failing) this.#o.log.warn("ban_check_failed", { error: e });
      this.#failing = true;
      return 0;
    } finally {
      this.#running = false;
    }
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
