/** The benchmarks' command lines. */
import { join, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";

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

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The options every benchmark has: where its results go, and --help. */
const COMMON = {
  out: { type: "string", default: join(resolve(import.meta.dir, "../.."), "bench/results") },
  help: { type: "boolean", default: false },
} as const satisfies Options;

/**
 * The command line, strict, with `--out DIR` and `--help` besides `options`:
 * --help prints `help` and exits 0; an unknown or malformed option ends the
 * run with its message, exit code 2.
 */
export function benchArgs<T extends Options>(help: string, options: T) {
  let values: ReturnType<typeof parseArgs<{ options: T & typeof COMMON; strict: true }>>["values"];
  try {
    ({ values } = parseArgs<{ options: T & typeof COMMON; strict: true }>({ options: { ...options, ...COMMON }, strict: true }));
  } catch (e) {
    console.error(`${(e as Error).message.split("\n")[0]} (see --help)`);
    process.exit(2);
  }
  if ((values as { help?: boolean }).help) {
    console.log(help);
    process.exit(0);
  }
  return values;
}
