/** The benchmarks' command-line numbers. */

/**
 * `text` as a number of at least `min` (a whole one when `whole`); anything
 * else ends the run with a usage message naming `--name`, exit code 2.
 */
export function numberArg(text: string | undefined, name: string, min = 0, whole = false): number {
  const v = Number(text);
  if (!(whole ? Number.isInteger(v) : Number.isFinite(v)) || v < min) {
    console.error(`--${name}: expected ${whole ? "an integer" : "a number"} >= ${min}, got ${text}`);
    process.exit(2);
  }
  return v;
}
