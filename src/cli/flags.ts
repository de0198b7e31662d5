/**
 * Command-line flags with environment fallbacks, parsed by node:util's
 * parseArgs. One table per command drives parsing, defaults and --help.
 */
import { parseArgs } from "node:util";

export interface Flag {
  name: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  boolean?: boolean;
  /** Placeholder in the help text, e.g. URL or N. */
  arg?: string;
  help: string;
  /** Shown in the help text. */
  default?: string;
}

/** A bad command line: the message is one line; main prints it with the usage and exits 2. */
export class UsageError extends Error {}

export type Parsed = Record<string, string | boolean | undefined>;

export function parseFlags(flags: Flag[], argv: string[], env: Record<string, string | undefined> = process.env): Parsed {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const f of flags) options[f.name] = { type: f.boolean ? "boolean" : "string" };
  let values: Parsed;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Parsed });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  for (const f of flags) {
    if (values[f.name] !== undefined || !f.env || env[f.env] === undefined || env[f.env] === "") continue;
    values[f.name] = f.boolean ? !["0", "false", "no"].includes(String(env[f.env]).toLowerCase()) : env[f.env];
  }
  return values;
}

export function usage(command: string, summary: string, flags: Flag[]): string {
  const rows = flags.map((f) => {
    const left = `  --${f.name}${f.arg ? ` ${f.arg}` : ""}`;
    const right = [f.help, f.default !== undefined ? `(default ${f.default})` : "", f.env ? `[${f.env}]` : ""].filter(Boolean).join(" ");
    return { left, right };
  });
  const width = Math.max(...rows.map((r) => r.left.length), 10) + 2;
  return `usage: ${command}\n\n${summary}\n\noptions:\n${rows.map((r) => r.left.padEnd(width) + r.right).join("\n")}\n  --help${" ".repeat(Math.max(1, width - 8))}this text\n`;
}

/** A flag's value as an integer within [min, max]. */
export function intFlag(values: Parsed, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw.trim()) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}
