/**
 * What connections do wrong, in the log without flooding it: bad frames,
 * requests cut by the rate limit, logins refused by the login throttle. Each
 * kind is a `Burst` per connection: one `WARN <kind>` line when it starts,
 * then `WARN <kind>_repeats count=N seconds=S` at most once per interval and
 * when it ends (`over=true`). Lines name the remote address, the connection
 * and the user when logged in; never what the client sent.
 */
import type { Logger } from "../log.ts";
import { Burst } from "./burst.ts";

export type AbuseKind = "bad_frame" | "rate_limited" | "login_throttled";

/** What the log needs of a connection. */
export interface Offender {
  readonly id: number;
  readonly remote: string;
  readonly session?: { readonly user: { readonly id: number } };
}

export class AbuseLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** A connection's bursts, by kind; gone with the connection. */
  readonly #bursts = new WeakMap<Offender, Map<AbuseKind, Burst<Record<string, unknown>>>>();

  constructor(log: Logger, intervalMs: number, now: () => number = () => performance.now()) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** One event of `kind` on `conn`; `fields` go on the line, if this event starts a burst. */
  hit(conn: Offender, kind: AbuseKind, fields: Record<string, unknown> = {}) {
    let kinds = this.#bursts.get(conn);
    if (!kinds) this.#bursts.set(conn, (kinds = new Map()));
    let burst = kinds.get(kind);
    if (!burst) {
      burst = new Burst<Record<string, unknown>>(this.#intervalMs, (r) => {
        // The remote address first: a filter (fail2ban) can anchor on it before anything a client chose.
        const who = { remote: conn.remote, conn: conn.id, user: conn.session?.user.id };
        if (r.first) this.#log.warn(kind, { ...who, ...r.detail });
        else this.#log.warn(`${kind}_repeats`, { ...who, count: r.count, seconds: Math.round(r.ms / 100) / 10, over: r.over });
      });
      kinds.set(kind, burst);
    }
    burst.hit(this.#now(), fields);
  }

  /** The connection closed: every burst of it is over. */
  closed(conn: Offender) {
    const kinds = this.#bursts.get(conn);
    if (!kinds) return;
    this.#bursts.delete(conn);
    for (const burst of kinds.values()) burst.end();
  }
}
