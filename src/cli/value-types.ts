/**
 * How an option's text becomes a value: whole numbers in a range, durations
 * with units, URLs, files, one of a list, switches. Each type parses a flag
 * or environment value (text), optionally a config file's JSON value, and
 * shows a default in --help the way an operator would type it.
 *
 * A type throws a TypeError whose message says what is wrong with the value
 * as a predicate ("must be ...", "is not ...", "names ..."): the option
 * parser puts the option's name in front, "--port must be ...".
 */
import { readFileSync } from "node:fs";

export interface ValueType<T> {
  /** Placeholder in --help (`N`, `URL`); absent for a switch, which takes no value. */
  readonly arg?: string;
  /** Text from the command line or the environment. */
  parse(text: string): T;
  /** A value from the JSON config file; without it, strings and numbers go through `parse`. */
  fromJson?(value: unknown): T;
  /** A default as --help shows it; `String(value)` without it. */
  show?(value: T): string;
  /** A line printed once under the option list of a command that uses this type. */
  readonly note?: string;
}

/** Free text, not empty: an address, a node id. */
export function text(arg: string): ValueType<string> {
  return {
    arg,
    parse(s) {
      if (s === "") throw new TypeError("must not be empty");
      return s;
    },
  };
}

/** A whole number from `min` to `max`. */
export function int(min: number, max = Number.MAX_SAFE_INTEGER, arg = "N"): ValueType<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
  return {
    arg,
    parse(s) {
      const n = Number(s.trim());
      if (!/^\d+$/.test(s.trim()) || n < min || n > max) throw new TypeError(`must be a whole number ${range}, got "${s}"`);
      return n;
    },
  };
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Milliseconds as the largest unit that divides them: 90000 → "90s", 1209600000 → "14d". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const unit of ["d", "h", "m", "s"] as const) if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

/**
 * A duration, as milliseconds. Written with a unit (`500ms`, `90s`, `5m`,
 * `2h`, `14d`) or as a bare number in `bare` units, which keeps the meaning
 * the option had before units were accepted (`--idle-timeout 90` is 90 s).
 */
export function duration(bare: "s" | "ms", min = 0, max = Number.MAX_SAFE_INTEGER): ValueType<number> {
  return {
    arg: bare === "s" ? "SECS" : "MS",
    note: "SECS and MS also take a unit: 500ms, 90s, 5m, 2h, 14d.",
    parse(s) {
      const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(s.trim());
      if (!m) throw new TypeError(`must be a duration such as 500ms, 90s or 5m (a bare number is ${bare === "s" ? "seconds" : "milliseconds"}), got "${s}"`);
      const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? bare) as Unit]);
      if (ms < min || ms > max)
        throw new TypeError(`must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${formatDuration(min)}` : `from ${formatDuration(min)} to ${formatDuration(max)}`}, got "${s}"`);
      return ms;
    },
    show: formatDuration,
  };
}

/** One of a fixed list of words. */
export function oneOf<const W extends string>(words: readonly W[], arg: string): ValueType<W> {
  const list = `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
  return {
    arg,
    parse(s) {
      if (!(words as readonly string[]).includes(s)) throw new TypeError(`must be ${list}, got "${s}"`);
      return s as W;
    },
  };
}

/** An on/off switch: a bare `--flag` on the command line; 1/0, true/false, yes/no in the environment. */
export const toggle: ValueType<boolean> = {
  parse(s) {
    const v = s.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    throw new TypeError(`must be true or false, got "${s}"`);
  },
  fromJson(v) {
    if (typeof v === "boolean") return v;
    return toggle.parse(String(v));
  },
};

/** A URL with one of the given schemes (`redis:`), kept as text. */
export function url(protocols: readonly string[], example: string): ValueType<string> {
  return {
    arg: "URL",
    parse(s) {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        throw new TypeError(`is not a valid URL; expected one like ${example}`);
      }
      if (!protocols.includes(u.protocol)) throw new TypeError(`must be a URL like ${example}, not ${u.protocol}//`);
      return s;
    },
  };
}

/** Web origins (`https://chat.example.com`), comma-separated; a config file may give a JSON list. */
export const origins: ValueType<string[]> = {
  arg: "ORIGINS",
  parse(s) {
    return s
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x !== "")
      .map((x) => {
        let u: URL;
        try {
          u = new URL(x);
        } catch {
          throw new TypeError(`must list origins like https://chat.example.com; "${x}" is not one`);
        }
        if ((u.protocol !== "http:" && u.protocol !== "https:") || u.origin !== x.replace(/\/$/, "").toLowerCase())
          throw new TypeError(`must list origins like https://chat.example.com (scheme, host and port only); "${x}" is not one`);
        return u.origin;
      });
  },
  fromJson(v) {
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return origins.parse(v.join(","));
    if (typeof v === "string") return origins.parse(v);
    throw new TypeError("must be a list of origins");
  },
  show: (v) => (v.length === 0 ? "none" : v.join(",")),
};

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new TypeError(`names a file that cannot be read: ${path}${code ? ` (${code})` : ""}`);
  }
}

/** A file's path; the file must be readable now. */
export const file: ValueType<string> = {
  arg: "FILE",
  parse(path) {
    readText(path);
    return path;
  },
};

/** A PEM file (certificate, key, CA), read at once: the value is its text. */
export const pemFile: ValueType<string> = {
  arg: "FILE",
  parse(path) {
    const pem = readText(path);
    if (!pem.includes("-----BEGIN ")) throw new TypeError(`names ${path}, which is not a PEM file (it has no -----BEGIN line)`);
    return pem;
  },
};

/**
 * A file holding one secret (a password), read at once: the value is its text
 * without the trailing newline that editors and `echo` add.
 */
export const secretFile: ValueType<string> = {
  arg: "FILE",
  parse(path) {
    const secret = readText(path).replace(/\r?\n$/, "");
    if (secret === "") throw new TypeError(`names an empty file: ${path}`);
    if (/[\r\n]/.test(secret)) throw new TypeError(`names ${path}, which has more than one line; it should hold just the secret`);
    return secret;
  },
};

/** A host and port, as a Redis Sentinel is addressed. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * A comma-separated list of `host:port` (an IPv6 address in brackets,
 * `[::1]:26379`), at least one, none twice. In the config file also a JSON
 * array of such strings.
 */
export function hostPortList(example: string): ValueType<HostPort[]> {
  const one = (item: string): HostPort => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d+)$/.exec(item.trim());
    const port = Number(m?.[3]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`must be a list of host:port like ${example}, got "${item.trim()}"`);
    return { host: (m[1] ?? m[2])!, port };
  };
  const list = (items: string[]): HostPort[] => {
    const out = items.filter((s) => s.trim() !== "").map(one);
    if (out.length === 0) throw new TypeError(`must name at least one host:port, like ${example}`);
    const seen = new Set<string>();
    for (const h of out) {
      const key = `${h.host}:${h.port}`;
      if (seen.has(key)) throw new TypeError(`names ${key} twice`);
      seen.add(key);
    }
    return out;
  };
  return {
    arg: "HOST:PORT,...",
    parse: (s) => list(s.split(",")),
    fromJson(v) {
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return list(v);
      if (typeof v === "string") return list(v.split(","));
      throw new TypeError(`must be a list of host:port like ${example}`);
    },
  };
}
