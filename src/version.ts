import pkg from "../package.json" with { type: "json" };

declare const CHAT_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

/** The commit: fixed at build time (`bun build --define`), asked of git when run from source. */
export function commit(): string {
  if (typeof CHAT_COMMIT === "string") return CHAT_COMMIT;
  const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
  return r.success ? r.stdout.toString().trim() : "unknown";
}
