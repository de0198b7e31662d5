/**
 * The web port's site handler (src/web/site.ts): which file each path gets,
 * its caching headers, ETag revalidation and compression; and the real
 * bundle, built by the macro, is a page whose scripts and styles are all served.
 */
import { describe, expect, it } from "bun:test";
import { gunzipSync } from "node:zlib";
import { brotliDecompressSync } from "node:zlib";
import { createSite } from "../../src/web/site.ts";

const big = "body { color: black; }\n".repeat(200);
const site = createSite({
  assets: [
    { name: "index.html", text: '<!doctype html><script type="module" src="./app-abc123.js"></script>' },
    { name: "app-abc123.js", text: `console.log(${JSON.stringify(big)});` },
    { name: "style-def456.css", text: big },
  ],
});
const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  Promise.resolve(site(new Request(`http://127.0.0.1:6080${path}`, { method, headers })));

describe("the site handler", () => {
  it("serves index.html at / to be revalidated every time, with an ETag", async () => {
    const r = await get("/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("no-cache");
    expect(r.headers.get("etag")).toMatch(/^".+"$/);
    expect(await r.text()).toContain("app-abc123.js");
  });

  it("answers 304 without a body when the ETag still matches", async () => {
    const etag = (await get("/")).headers.get("etag")!;
    const r = await get("/", { "if-none-match": etag });
    expect(r.status).toBe(304);
    expect(await r.text()).toBe("");
    expect((await get("/", { "if-none-match": '"other"' })).status).toBe(200);
  });

  it("serves the hashed files as cached for good", async () => {
    const r = await get("/app-abc123.js");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("compresses with brotli or gzip as the browser accepts, and not at all when it accepts neither", async () => {
    const br = await get("/style-def456.css", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("vary")).toBe("accept-encoding");
    const brBody = new Uint8Array(await br.arrayBuffer());
    expect(brBody.length).toBeLessThan(big.length / 4);
    expect(brotliDecompressSync(brBody).toString()).toBe(big);

    const gz = await get("/style-def456.css", { "accept-encoding": "gzip" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(new Uint8Array(await gz.arrayBuffer())).toString()).toBe(big);

    const refused = await get("/style-def456.css", { "accept-encoding": "br;q=0, identity" });
    expect(refused.headers.get("content-encoding")).toBeNull();
    expect(await refused.text()).toBe(big);
  });

  it("answers HEAD with the headers and no body", async () => {
    const r = await get("/", {}, "HEAD");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("");
  });

  it("says 404 for a file it does not have and 405 for a method other than GET and HEAD", async () => {
    expect((await get("/nothing.js")).status).toBe(404);
    expect((await get("/a/../../etc/passwd")).status).toBe(404);
    expect((await get("/src/web/app.ts")).status).toBe(404);
    const post = await get("/", {}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("forbids scripts from anywhere but the site itself", async () => {
    const csp = (await get("/")).headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
  });
});

describe("the bundled web client", () => {
  it("is an index.html whose scripts and styles the handler serves", async () => {
    const real = createSite();
    const index = await real(new Request("http://127.0.0.1/"));
    const html = await index.text();
    const refs = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.some((r) => r.endsWith(".js"))).toBe(true);
    expect(refs.some((r) => r.endsWith(".css"))).toBe(true);
    for (const ref of refs) {
      const r = await real(new Request(`http://127.0.0.1/${ref}`));
      expect(r.status).toBe(200);
      expect(r.headers.get("cache-control")).toContain("immutable");
    }
  }, 30_000);
});
