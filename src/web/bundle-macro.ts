/**
 * Bundles the web client (index.html and what it loads) with Bun's bundler,
 * at build time: assets.ts imports this as a macro, so `bun build --compile`
 * runs it once and embeds what it returns in the executable, and `bun
 * src/main.ts` runs it when assets.ts is first loaded. Nothing of the page
 * is read from disk at run time either way.
 *
 * A macro may not call Bun.build (the bundler would wait on itself), so it
 * runs the `bun build` command into a temporary folder and reads that.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One file of the bundle: its name (hashed but for index.html) and its text. */
export interface WebAsset {
  name: string;
  text: string;
}

export function buildWebBundle(): WebAsset[] {
  const out = mkdtempSync(join(tmpdir(), "chat-web-"));
  try {
    const r = Bun.spawnSync(
      [process.execPath, "build", join(import.meta.dir, "index.html"), "--outdir", out, "--minify", "--target", "browser"],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
    );
    if (!r.success) throw new Error(`bundling the web client failed:\n${r.stderr.toString()}${r.stdout.toString()}`);
    return readdirSync(out)
      .sort()
      .map((name) => ({ name, text: readFileSync(join(out, name), "utf8") }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
