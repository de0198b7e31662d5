/**
 * The web port's pages: the server hands every HTTP request that is not the
 * WebSocket (`/ws`) to the handler made here. It serves the bundled web client
 * (assets.ts) from memory: `/` is index.html, revalidated every time (no-cache
 * with an ETag: a new build shows at the next load); the other files have a
 * content hash in their names and are cached for good (immutable). Bodies are
 * compressed with brotli or gzip when the browser accepts it, once per file.
 */
import { brotliCompressSync, constants } from "node:zlib";
import type { WebAsset } from "./bundle-macro.ts";

/** What the server calls for each request to its web port but `/ws`. */
export type SiteHandler = (req: Request) => Response | Promise<Response>;

export interface SiteOptions {
  /**
   * The files to serve; default the bundled web client (loaded, and under
   * `bun src/main.ts` bundled, at the first request).
   */
  assets?: WebAsset[] | (() => Promise<WebAsset[]>);
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
};

/** Smaller than this, compressing costs more than it saves. */
const MIN_COMPRESS = 1024;

/**
 * The page may load only its own scripts and styles and talk only to its own
 * server: a text that slipped through as markup still could not run a script.
 */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

class Asset {
  readonly type: string;
  readonly etag: string;
  readonly body: Uint8Array<ArrayBuffer>;
  #gzip: Uint8Array<ArrayBuffer> | undefined;
  #br: Uint8Array<ArrayBuffer> | undefined;

  constructor(
    readonly name: string,
    text: string,
  ) {
    this.body = new TextEncoder().encode(text);
    this.type = TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    this.etag = `"${Bun.hash(this.body).toString(36)}"`;
  }

  /** The body in the best encoding the request accepts. */
  encoded(accept: string): { body: Uint8Array<ArrayBuffer>; encoding?: "br" | "gzip" } {
    if (this.body.length < MIN_COMPRESS || !/^text\/|json|svg/.test(this.type)) return { body: this.body };
    if (accepts(accept, "br")) {
      this.#br ??= new Uint8Array(brotliCompressSync(this.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      return { body: this.#br, encoding: "br" };
    }
    if (accepts(accept, "gzip")) {
      this.#gzip ??= new Uint8Array(Bun.gzipSync(this.body, { level: 9 }));
      return { body: this.#gzip, encoding: "gzip" };
    }
    return { body: this.body };
  }
}

/** Whether an Accept-Encoding header takes `coding` (and does not say `;q=0`). */
function accepts(header: string, coding: string): boolean {
  for (const part of header.toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (name !== coding && name !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** Makes the site handler. The files are loaded once, at the first request. */
export function createSite(options: SiteOptions = {}): SiteHandler {
  const source = options.assets ?? (async () => (await import("./assets.ts")).ASSETS);
  let files: Promise<Map<string, Asset>> | undefined;
  const load = () =>
    (files ??= (async () => {
      const list = typeof source === "function" ? await source() : source;
      const map = new Map(list.map((a) => [a.name, new Asset(a.name, a.text)]));
      if (!map.has("index.html")) throw new Error("the web bundle has no index.html");
      return map;
    })());

  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "method not allowed", { allow: "GET, HEAD" });
    }
    const path = new URL(req.url).pathname;
    const name = path === "/" ? "index.html" : path.slice(1);
    const asset = name.includes("/") ? undefined : (await load()).get(name);
    if (!asset) return text(404, "not found");
    const immutable = name !== "index.html";
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": asset.type,
      etag: asset.etag,
      vary: "accept-encoding",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    };
    if (matches(req.headers.get("if-none-match"), asset.etag)) return new Response(null, { status: 304, headers });
    const { body, encoding } = asset.encoded(req.headers.get("accept-encoding") ?? "");
    if (encoding) headers["content-encoding"] = encoding;
    headers["content-length"] = String(body.length);
    return new Response(req.method === "HEAD" ? null : body, { status: 200, headers });
  };
}

/** If-None-Match: a list of ETags, or `*`; a weak one (`W/`) matches too for GET. */
function matches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, { status, headers: { ...SECURITY_HEADERS, "content-type": TYPES.txt!, ...extra } });
}
