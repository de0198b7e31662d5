/**
 * Database host lists: `mysql://user:pass@h1:3306,h2:3306,h3:3306/chat` and
 * `hosts: ["h1:3306", "h2", { host: "h3", port: 3307 }]`. The WHATWG URL
 * parser (and mysql2's) reads one host only, so a list URL is split here into
 * one ordinary URL per host; everything but the host (user, password,
 * database, query) is the same in each.
 */

/** One entry of a `hosts` list: "host", "host:port", "[v6]:port", or an object. */
export type HostSpec = string | { host: string; port?: number };

/** A host as the pool names it in errors and stats: "host:port". */
export interface HostAddress {
  host: string;
  port: number;
  /** "host:port" ("[v6]:port" for IPv6). */
  label: string;
}

const DEFAULT_PORT = 3306;

/** scheme://, the authority (up to the first / ? #), and the rest. */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([\s\S]*)$/i;

interface SplitUrl {
  prefix: string;
  userinfo: string;
  hostPart: string;
  rest: string;
}

function split(url: string): SplitUrl | undefined {
  const m = URL_PARTS.exec(url);
  if (!m) return undefined;
  const authority = m[2]!;
  // The user:password part ends at the last "@" of the authority.
  const at = authority.lastIndexOf("@");
  return { prefix: m[1]!, userinfo: authority.slice(0, at + 1), hostPart: authority.slice(at + 1), rest: m[3]! };
}

/** Whether `url` names more than one host (a comma in its host part). */
export function isHostListUrl(url: string): boolean {
  return split(url)?.hostPart.includes(",") ?? false;
}

/**
 * The hosts a URL names, in order, and the URL for each one
 * (`mysql://u:p@h1:3306,h2/db` gives `mysql://u:p@h1:3306/db` and `mysql://u:p@h2/db`).
 * A URL with one host gives itself. Throws a TypeError on an empty entry.
 */
export function splitHostListUrl(url: string): { hosts: string[]; urls: string[] } {
  const s = split(url);
  if (!s || !s.hostPart.includes(",")) return { hosts: s ? [s.hostPart] : [], urls: [url] };
  const hosts = s.hostPart.split(",").map((h) => h.trim());
  if (hosts.some((h) => h === "")) throw new TypeError("the host list in the URL has an empty entry (two commas, or one at an end)");
  return { hosts, urls: hosts.map((h) => `${s.prefix}${s.userinfo}${h}${s.rest}`) };
}

/** `url` (one host) with its host replaced by the list: the inverse of splitHostListUrl. */
export function joinHostListUrl(url: string, hosts: string[]): string {
  const s = split(url);
  if (!s) throw new TypeError("not a URL");
  return `${s.prefix}${s.userinfo}${hosts.join(",")}${s.rest}`;
}

/** Parses one host entry; `port` is the default when the entry names none. */
export function parseHost(spec: HostSpec, port = DEFAULT_PORT): HostAddress {
  if (typeof spec === "object" && spec !== null) {
    if (typeof spec.host !== "string" || spec.host === "") throw new TypeError("a host entry needs a host name");
    const p = spec.port ?? port;
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new TypeError(`the port of ${spec.host} must be 1-65535, got ${p}`);
    return address(spec.host, p);
  }
  if (typeof spec !== "string" || spec.trim() === "") throw new TypeError(`a host entry must be "host:port" or { host, port }, got ${JSON.stringify(spec)}`);
  const text = spec.trim();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(text);
  if (!m) throw new TypeError(`a host entry must be "host" or "host:port", got "${text}"`);
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  const p = m[2] === undefined ? port : Number(m[2]);
  if (p < 1 || p > 65535) throw new TypeError(`the port of ${host} must be 1-65535, got ${p}`);
  return address(host, p);
}

function address(host: string, port: number): HostAddress {
  return { host, port, label: `${host.includes(":") ? `[${host}]` : host}:${port}` };
}
