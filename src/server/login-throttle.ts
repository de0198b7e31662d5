/**
 * Failed password logins, counted per account and per remote address, and
 * the growing wait they impose. A few mistakes pass untouched: only after
 * `accountFailures` failures of one account (or `addressFailures` from one
 * address) within `windowMs` must the next attempt wait `delayMs`; each
 * further failure doubles the wait, up to `maxDelayMs`. A successful login
 * clears its account's count (not its address's: one account an attacker
 * owns must not reset their address). A key is forgotten after a quiet
 * window: no failure for `windowMs` after its last wait ended.
 *
 * While a key waits, the caller refuses the login without checking the
 * password (the server answers `rate_limited`; see handlers/account.ts for
 * why not a delay). Once a key is throttled, an attempt that is let through
 * books the next wait at once, so parallel connections cannot test several
 * passwords in the gap between the check and the failure.
 *
 * State belongs to one server; each table keeps at most `maxKeys` keys,
 * dropping the least recently failed first.
 */

export interface LoginThrottleOptions {
  /** Failures of one account within the window after which its logins wait; 0 turns it off. Default 5. */
  accountFailures: number;
  /** Failures from one remote address within the window after which its logins wait; 0 turns it off. Default 20. */
  addressFailures: number;
  /** The window, ms; also the quiet time after which a key is forgotten. Default 60 s. */
  windowMs: number;
  /** The first wait, ms; it doubles with each further failure. Default 250 ms. */
  delayMs: number;
  /** The longest wait, ms. Default 30 s. */
  maxDelayMs: number;
  /** Most keys per table (accounts, addresses). Default 50,000. */
  maxKeys: number;
}

export const LOGIN_THROTTLE_DEFAULTS = {
  accountFailures: 5,
  addressFailures: 20,
  windowMs: 60_000,
  delayMs: 250,
  maxDelayMs: 30_000,
  maxKeys: 50_000,
} satisfies LoginThrottleOptions;

/** One key's failures. */
interface Entry {
  /** Times of the failures in the window, while not throttled yet. */
  recent: number[];
  /** Failures since the throttle began (0: not throttled). */
  strikes: number;
  /** Attempts wait until then (ms). */
  until: number;
  /** The latest failure (ms). */
  last: number;
}

/** Keys and their failures: one table of the throttle. */
export class FailureTable {
  readonly #after: number;
  readonly #o: Pick<LoginThrottleOptions, "windowMs" | "delayMs" | "maxDelayMs" | "maxKeys">;
  /** In order of their latest failure, oldest first: pruning and eviction start at the front. */
  readonly #entries = new Map<string, Entry>();

  constructor(after: number, o: Pick<LoginThrottleOptions, "windowMs" | "delayMs" | "maxDelayMs" | "maxKeys">) {
    this.#after = after;
    this.#o = o;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Whether `key` may try now: 0 when it may (for a throttled key this books
   * the next wait), else the ms left to wait.
   */
  attempt(key: string, now: number): number {
    const e = this.#live(key, now);
    if (!e || e.strikes === 0) return 0;
    if (e.until > now) return e.until - now;
    e.until = now + this.#delay(e.strikes + 1);
    return 0;
  }

  /** A failed attempt of `key`; returns the wait it now has (0: none yet). */
  failed(key: string, now: number): number {
    if (this.#after <= 0) return 0;
    let e = this.#live(key, now);
    if (e) this.#entries.delete(key); // re-inserted below, at the back
    else e = { recent: [], strikes: 0, until: 0, last: now };
    if (e.strikes === 0) {
      e.recent = e.recent.filter((t) => now - t < this.#o.windowMs);
      e.recent.push(now);
      if (e.recent.length >= this.#after) {
        e.strikes = 1;
        e.recent = [];
      }
    } else e.strikes++;
    if (e.strikes > 0) e.until = now + this.#delay(e.strikes);
    e.last = now;
    this.#entries.set(key, e);
    this.prune(now);
    while (this.#entries.size > this.#o.maxKeys) this.#entries.delete(this.#entries.keys().next().value as string);
    return e.strikes > 0 ? e.until - now : 0;
  }

  /** Forgets `key` (its login succeeded). */
  clear(key: string) {
    this.#entries.delete(key);
  }

  /** Forgets the keys at the front whose quiet window has passed. */
  prune(now: number) {
    for (const [key, e] of this.#entries) {
      if (!this.#expired(e, now)) break;
      this.#entries.delete(key);
    }
  }

  /** The wait after the `strikes`th failure since the throttle began. */
  #delay(strikes: number): number {
    return Math.min(this.#o.maxDelayMs, this.#o.delayMs * 2 ** Math.min(strikes - 1, 52));
  }

  #expired(e: Entry, now: number): boolean {
    return now - Math.max(e.last, e.until) >= this.#o.windowMs;
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && this.#expired(e, now)) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }
}

/** Why a login must wait, and how long (ms). */
export interface Wait {
  scope: "account" | "address";
  ms: number;
}

export class LoginThrottle {
  readonly accounts: FailureTable;
  readonly addresses: FailureTable;
  readonly #now: () => number;

  constructor(options: Partial<LoginThrottleOptions> = {}, now: () => number = Date.now) {
    const o = { ...LOGIN_THROTTLE_DEFAULTS, ...options };
    for (const k of ["accountFailures", "addressFailures", "windowMs", "delayMs", "maxDelayMs", "maxKeys"] as const)
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new TypeError(`login throttle: ${k} must be a number, 0 or more`);
    if (o.delayMs < 1) throw new TypeError("login throttle: delayMs must be at least 1");
    if (o.maxDelayMs < o.delayMs) throw new TypeError("login throttle: maxDelayMs must be at least delayMs");
    if (o.maxKeys < 1) throw new TypeError("login throttle: maxKeys must be at least 1");
    this.accounts = new FailureTable(o.accountFailures, o);
    this.addresses = new FailureTable(o.addressFailures, o);
    this.#now = now;
  }

  /** Whether a login from `address` may try now (before the account is known): undefined, or the wait. */
  address(address: string): Wait | undefined {
    const ms = this.addresses.attempt(address, this.#now());
    return ms > 0 ? { scope: "address", ms } : undefined;
  }

  /** Whether a login of `account` may try now: undefined, or the wait. */
  account(account: string): Wait | undefined {
    const ms = this.accounts.attempt(account, this.#now());
    return ms > 0 ? { scope: "account", ms } : undefined;
  }

  /** A wrong password for `account` from `address`; returns the longer wait it now causes (0: none). */
  failed(account: string, address: string): number {
    const now = this.#now();
    return Math.max(this.accounts.failed(account, now), this.addresses.failed(address, now));
  }

  /** The right password for `account`: its failures are forgiven. */
  succeeded(account: string) {
    this.accounts.clear(account);
  }

  /** Forgets what has expired; for the gauges. */
  prune() {
    const now = this.#now();
    this.accounts.prune(now);
    this.addresses.prune(now);
  }
}
