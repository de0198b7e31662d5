/** Bounded waiting for tests, benchmarks and the lab: every wait has a deadline and says what it waited for. */
import { existsSync, readFileSync } from "node:fs";

export interface WaitOptions {
  /** How often `check` runs, in ms. Default 50. */
  everyMs?: number;
  /** What explains a timeout (a log's tail, a screen), appended to its message. */
  detail?: () => string | Promise<string>;
}

/** A wait that ran out of time; `code` tells it from a failure of the check itself. */
export class WaitTimeoutError extends Error {
  readonly code = "wait_timeout";
}

/**
 * Runs `check` until it returns something other than undefined or false, and
 * returns that (so a check can hand back what it found: a time, a frame, 0).
 * Throws WaitTimeoutError after `timeoutMs`; an error thrown by `check` ends
 * the wait at once. For what can only be polled (a process's /healthz, a
 * metric, a screen); a frame on a connection is awaited through Wire instead.
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  opts: WaitOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const every = opts.everyMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as Exclude<T, false | undefined>;
    const left = deadline - Date.now();
    if (left <= 0) {
      const detail = opts.detail ? `\n${await opts.detail()}` : "";
      throw new WaitTimeoutError(`${what}: not within ${timeoutMs} ms${detail}`);
    }
    await Bun.sleep(Math.min(every, left));
  }
}

/**
 * For a wait whose timeout is an outcome to report rather than a failure
 * (a measurement, a drain): `waitUntil(...).catch(timedOut)` resolves
 * undefined when time ran out and rethrows anything else.
 */
export function timedOut(e: unknown): undefined {
  if (e instanceof WaitTimeoutError) return undefined;
  throw e;
}

/** The last `lines` lines of a log file, headed by its name (for a timeout's `detail`); empty when there is no file. */
export function tailOf(file: string | undefined, lines = 20): string {
  if (!file || !existsSync(file)) return "";
  return `--- ${file}:\n${readFileSync(file, "utf8").split("\n").slice(-lines).join("\n")}`;
}
