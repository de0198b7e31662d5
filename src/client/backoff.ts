/** Jittered exponential backoff for reconnecting. */

export interface BackoffOptions {
  /** delay before the first attempt, ms (default 100) */
  initialDelayMs?: number;
  /** cap on the un-jittered delay, ms (default 5000) */
  maxDelayMs?: number;
  /** growth per attempt (default 2) */
  factor?: number;
  /** fraction of the delay added or removed at random: 0.5 means ±50% (default 0.5) */
  jitter?: number;
}

export const BACKOFF_DEFAULTS = {
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  factor: 2,
  jitter: 0.5,
} satisfies Required<BackoffOptions>;

/**
 * The delay before attempt `attempt` (1-based): `initial * factor^(attempt-1)`,
 * capped at `maxDelayMs`, then spread by ±`jitter` so that clients dropped by
 * the same failover do not all come back at the same instant.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const o = { ...BACKOFF_DEFAULTS, ...options };
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** Math.max(0, attempt - 1));
  const spread = 1 - o.jitter + 2 * o.jitter * random();
  return Math.max(0, Math.round(base * spread));
}

/** Throws a TypeError for options that cannot work. */
export function checkBackoff(options: BackoffOptions): void {
  const o = { ...BACKOFF_DEFAULTS, ...options };
  if (!(o.initialDelayMs >= 0)) throw new TypeError("reconnect.initialDelayMs must be >= 0");
  if (!(o.maxDelayMs >= o.initialDelayMs)) throw new TypeError("reconnect.maxDelayMs must be >= initialDelayMs");
  if (!(o.factor >= 1)) throw new TypeError("reconnect.factor must be >= 1");
  if (!(o.jitter >= 0 && o.jitter <= 1)) throw new TypeError("reconnect.jitter must be within 0..1");
}
