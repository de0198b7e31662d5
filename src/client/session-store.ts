/**
 * Where the console client remembers a session between runs: one token per
 * server address, in a file only the user can read (mode 0600, in a 0700
 * directory), under `$XDG_CONFIG_HOME/chat/` (default `~/.config/chat/`).
 * A token is as good as the password until it is revoked, hence the modes.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** `$XDG_CONFIG_HOME/chat`, or `~/.config/chat` when it is unset or not absolute (as the XDG spec says). */
export function defaultSessionDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.startsWith("/") ? xdg : join(env.HOME || homedir(), ".config");
  return join(base, "chat");
}

export class SessionStore {
  readonly path: string;

  constructor(
    readonly dir: string,
    host: string,
    port: number,
  ) {
    // One file per address; anything but plain name characters becomes `_` (IPv6 colons, slashes).
    this.path = join(dir, `session-${host.replace(/[^A-Za-z0-9.-]/g, "_")}-${port}.token`);
  }

  /** The remembered token, or undefined when there is none (or it cannot be read). */
  async load(): Promise<string | undefined> {
    try {
      const token = (await readFile(this.path, "utf8")).trim();
      return token === "" ? undefined : token;
    } catch {
      return undefined;
    }
  }

  /** Remembers `token`, replacing the file at once so that a crash never leaves half a token. */
  async save(token: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${token}\n`, { mode: 0o600 });
    // The mode given to writeFile is masked by the umask; the token must be the user's alone.
    await chmod(tmp, 0o600);
    await rename(tmp, this.path);
  }

  /** Forgets the session (no file is fine). */
  async forget(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
