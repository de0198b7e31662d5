/**
 * `npm run build`: dist/chat, one executable with the server, the client and
 * the migrations (the schema is embedded). It needs no node_modules and no
 * source at run time. `bun scripts/build.ts FILE` writes it to FILE instead
 * (tests build their own, leaving dist/chat alone).
 */
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root, stderr: "ignore" });
const commit = git.success ? git.stdout.toString().trim() : "unknown";
const out = resolve(process.argv[2] ?? resolve(root, "dist/chat"));
const r = Bun.spawnSync(
  [process.execPath, "build", "--compile", "--minify-syntax", "--sourcemap", `--define`, `CHAT_COMMIT=${JSON.stringify(commit)}`, "src/main.ts", "--outfile", out],
  { cwd: root, stdout: "inherit", stderr: "inherit" },
);
if (!r.success) process.exit(r.exitCode ?? 1);
console.log(`built ${out} (commit ${commit})`);
