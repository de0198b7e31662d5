/**
 * Operator logs: one line per event. Two formats of the same events:
 *
 * - `text` (the default): `<time> <LEVEL> <event> key=value ...`, for people
 *   and grep; a value with spaces, quotes or `=` is written as a JSON string,
 *   so one event is always one line whatever a client sent.
 * - `json`: one JSON object per line, `{"time", "level", "event", ...fields}`,
 *   for log shippers.
 *
 * Never pass secrets or message texts here.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export const LOG_FORMATS = ["text", "json"] as const satisfies readonly LogFormat[];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Default "text". */
  format?: LogFormat;
  /** Where each line goes, newline included. Default: stderr. */
  write?: (line: string) => void;
  /** The time of an event. Default: now. */
  now?: () => Date;
}

/** A field as JSON can hold it: an Error as "code: message", a bigint as its digits. */
function plain(v: unknown): unknown {
  if (v instanceof Error) {
    const code = (v as Error & { code?: unknown }).code;
    return code ? `${code}: ${v.message}` : v.message;
  }
  return typeof v === "bigint" ? v.toString() : v;
}

function stringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v); // a cycle: the field is still worth a line
  }
}

function textValue(v: unknown): string {
  const p = plain(v);
  const s = typeof p === "string" ? p : stringify(p);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

function textLine(time: Date, level: LogLevel, event: string, fields?: Record<string, unknown>): string {
  let line = `${time.toISOString()} ${level.toUpperCase()} ${event}`;
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
  return line + "\n";
}

function jsonLine(time: Date, level: LogLevel, event: string, fields?: Record<string, unknown>): string {
  const o: Record<string, unknown> = { time: time.toISOString(), level, event };
  // A field cannot overwrite time, level or event: the shipper relies on them.
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined && !(k in o)) o[k] = plain(v);
  return stringify(o) + "\n";
}

/** A logger writing at `level` and above. */
export function createLogger(level: LogLevel = "info", options: LoggerOptions = {}): Logger {
  const min = RANK[level];
  const line = options.format === "json" ? jsonLine : textLine;
  const write = options.write ?? ((l: string) => process.stderr.write(l));
  const now = options.now ?? (() => new Date());
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    write(line(now(), lvl, event, fields));
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
  };
}

/** A logger that drops everything (tests that do not care). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
