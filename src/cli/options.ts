/**
 * A command's options, declared once in a table: each entry's flag,
 * environment variable, value type, default and help text. Parsing the
 * command line, the environment and the config file, and the --help text,
 * all come from that table.
 *
 * Where a value comes from, first found wins: the flag, its environment
 * variable (an empty one counts as unset), the config file (`--config FILE`,
 * JSON keyed by flag name), the default.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ValueType } from "./value-types.ts";

/** A default computed from the other options' values (the admin port from the chat port). */
export class Derived<T> {
  constructor(
    /** What --help says the default is. */
    readonly text: string,
    readonly of: (values: Readonly<Record<string, unknown>>) => T,
  ) {}
}

export function derived<T>(text: string, of: (values: Readonly<Record<string, unknown>>) => T): Derived<T> {
  return new Derived(text, of);
}

export interface Option<T> {
  type: ValueType<T>;
  /** The flag without its dashes. Default: the table key in kebab-case (`adminPort` → `admin-port`). */
  flag?: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  help: string;
  default?: T | Derived<T>;
  /** Without a default: the command cannot run without it. */
  required?: true;
}

// `any`: each entry keeps its own value type; `Values` reads it back per key.
export type Table = Record<string, Option<any>>;

/** The parsed values: an option with a default or marked required always has one. */
export type Values<T extends Table> = {
  -readonly [K in keyof T]: T[K] extends { type: ValueType<infer V> } ? (T[K] extends { default: unknown } | { required: true } ? V : V | undefined) : never;
};

/** Where each value came from, for messages and for "was it given?". */
export type Source = { from: "flag" | "env" | "default" } | { from: "config"; file: string };

export interface Parsed<T extends Table> {
  values: Values<T>;
  source: Record<keyof T, Source>;
}

/**
 * A command line the command cannot run with. `withUsage` asks for the whole
 * option list (an unknown flag: the operator needs the real names); a bad
 * value gets its one line and a pointer to --help.
 */
export class UsageError extends Error {
  readonly code = "usage";
  constructor(
    message: string,
    readonly withUsage = false,
  ) {
    super(message);
  }
}

export function flagOf(key: string, option: Option<unknown>): string {
  return option.flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The command line alone: flag values as given (not yet parsed), whether
 * --help was asked for, and the arguments that are no flags (refused unless
 * `positionals`; after `--` everything is one, even "-x").
 */
export function readArgs(
  table: Table,
  argv: string[],
  positionals = false,
): { flags: Record<string, string | boolean>; help: boolean; args: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [key, o] of Object.entries(table)) options[flagOf(key, o)] = { type: o.type.arg === undefined ? "boolean" : "string" };
  try {
    const { values, positionals: args } = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
    const { help, ...flags } = values as Record<string, string | boolean>;
    return { flags, help: help === true, args };
  } catch (e) {
    // node:util's message: one useful sentence, then advice about `--` that does not apply here.
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, ""), true);
  }
}

function describe(flag: string, option: Option<unknown>, source: Source): string {
  if (source.from === "env") return `--${flag} (from ${option.env})`;
  if (source.from === "config") return `--${flag} (from "${flag}" in ${source.file})`;
  return `--${flag}`;
}

/** "--port must be ..." for the value types' own messages; a colon before anyone else's ("--mysql: maxSize must be ..."). */
function reason(name: string, message: string): string {
  return /^(must|is|names) /.test(message) ? `${name} ${message}` : `${name}: ${message}`;
}

function readConfig(path: string, source: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`${source} ${path}: ${code ? `cannot read it (${code})` : `not valid JSON: ${(e as Error).message}`}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new UsageError(`${source} ${path}: expected a JSON object of options by name, e.g. {"port": 6000}`);
  return config as Record<string, unknown>;
}

/**
 * Parses every option of `table` from the flags (see `readArgs`), the
 * environment and the config file named by the table's `config` option, if
 * it has one. `alsoInConfig` names options a shared config file may hold for
 * other commands: they are ignored here instead of refused as unknown.
 */
export function resolveOptions<T extends Table>(
  table: T,
  flags: Record<string, string | boolean>,
  env: Record<string, string | undefined> = process.env,
  alsoInConfig: Table = {},
): Parsed<T> {
  const entries = Object.entries(table);
  const raw = new Map<string, { value: unknown; source: Source }>();
  for (const [key, o] of entries) {
    const flag = flagOf(key, o);
    const e = o.env === undefined ? undefined : env[o.env];
    if (flags[flag] !== undefined) raw.set(key, { value: flags[flag], source: { from: "flag" } });
    else if (e !== undefined && e !== "") raw.set(key, { value: e, source: { from: "env" } });
  }

  const configOption = table.config;
  const configRaw = raw.get("config");
  if (configOption && typeof configRaw?.value === "string") {
    const file = configRaw.value;
    const config = readConfig(file, describe("config", configOption, configRaw.source));
    for (const [name, value] of Object.entries(config)) {
      const entry = entries.find(([key, o]) => flagOf(key, o) === name);
      if (!entry) {
        if (Object.entries(alsoInConfig).some(([key, o]) => flagOf(key, o) === name)) continue;
        throw new UsageError(`--config ${file}: unknown option "${name}" (the keys are the option names of --help, without the dashes)`);
      }
      if (entry[0] === "config") throw new UsageError(`--config ${file}: a config file cannot name another config file`);
      if (!raw.has(entry[0])) raw.set(entry[0], { value, source: { from: "config", file } });
    }
  }

  const values: Record<string, unknown> = {};
  const source: Record<string, Source> = {};
  for (const [key, o] of entries) {
    const r = raw.get(key);
    if (!r) continue;
    const { value } = r;
    if (typeof value === "boolean" && o.type.arg === undefined) {
      values[key] = value;
    } else {
      try {
        if (r.source.from === "config" && o.type.fromJson) values[key] = o.type.fromJson(value);
        else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") values[key] = o.type.parse(String(value));
        else throw new TypeError("must be a string or a number");
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        throw new UsageError(reason(describe(flagOf(key, o), o, r.source), e.message));
      }
    }
    source[key] = r.source;
  }
  for (const [key, o] of entries) {
    if (key in values) continue;
    source[key] = { from: "default" };
    if (o.default instanceof Derived) continue;
    if (o.default !== undefined) values[key] = o.default;
    else if (o.required) {
      const also = [o.env, configOption && `"${flagOf(key, o)}" in --config`].filter(Boolean);
      throw new UsageError(`--${flagOf(key, o)} is required${also.length ? ` (or ${also.join(", or ")})` : ""}`);
    }
  }
  // Derived defaults last: they read the values settled above.
  for (const [key, o] of entries) {
    if (key in values || !(o.default instanceof Derived)) continue;
    try {
      values[key] = o.default.of(values);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      throw new UsageError(reason(`--${flagOf(key, o)}`, e.message));
    }
  }
  return { values: values as Values<T>, source: source as Record<keyof T, Source> };
}

/** Whether an option's value was given (flag, environment, config file) rather than defaulted. */
export function given<T extends Table>(parsed: Parsed<T>, key: keyof T): boolean {
  return parsed.source[key].from !== "default";
}

/** The --help text: one line per option with its placeholder, help, default and environment variable. */
export function usage(command: string, summary: string, table: Table): string {
  const rows = Object.entries(table).map(([key, o]) => {
    const left = `  --${flagOf(key, o)}${o.type.arg ? ` ${o.type.arg}` : ""}`;
    const shown =
      o.default === undefined ? undefined : o.default instanceof Derived ? o.default.text : (o.type.show?.(o.default) ?? String(o.default));
    const right = [o.help, shown !== undefined ? `(default ${shown})` : "", o.env ? `[${o.env}]` : ""].filter(Boolean).join(" ");
    return { left, right };
  });
  rows.push({ left: "  --help", right: "this text" });
  const width = Math.max(...rows.map((r) => r.left.length), 10) + 2;
  const notes = [...new Set(Object.values(table).flatMap((o) => (o.type.note ? [o.type.note] : [])))];
  return `usage: ${command}\n\n${summary}\n\noptions:\n${rows.map((r) => r.left.padEnd(width) + r.right).join("\n")}\n${notes.length ? `\n${notes.join("\n")}\n` : ""}`;
}
