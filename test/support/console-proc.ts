/**
 * The console client as a child process driven through its stdin, as a
 * script would (`bun src/main.ts client`), its output read line by line:
 * for the console's own tests and for tests where a terminal user takes part.
 */
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LineReader } from "./framing.ts";

const ROOT = `${import.meta.dir}/../..`;
const MAIN = `${ROOT}/src/main.ts`;
export const WAIT_MS = 10_000;

/** Lines of a child's output, with waiting for a line that matches. */
export class Lines {
  readonly lines: string[] = [];
  #waiters: Array<{ re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }> = [];
  #cursor = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    void this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = new LineReader((line) => this.#add(line));
    for await (const chunk of stream) reader.push(chunk);
    if (reader.rest) this.#add(reader.rest);
  }

  #add(line: string): void {
    this.lines.push(line);
    for (const w of [...this.#waiters]) {
      const m = line.match(w.re);
      if (m) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** The next line (after the last one matched) that matches `re`. */
  waitFor(re: RegExp, what = String(re), timeoutMs = WAIT_MS): Promise<RegExpMatchArray> {
    for (let i = this.#cursor; i < this.lines.length; i++) {
      const m = this.lines[i]!.match(re);
      if (m) {
        this.#cursor = i + 1;
        return Promise.resolve(m);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; output so far:\n${this.lines.join("\n")}`)),
        timeoutMs,
      );
      this.#waiters.push({
        re,
        from: this.lines.length,
        resolve: (m) => {
          clearTimeout(timer);
          this.#cursor = this.lines.length;
          resolve(m);
        },
      });
    });
  }
}

/** A console client child process driven through its stdin. */
export class ConsoleProc {
  readonly out: Lines;
  constructor(readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    this.out = new Lines(proc.stdout);
  }

  /** A console of its own user: `configHome` is where it remembers sessions (default: a fresh directory). */
  static start(port: number, configHome = freshConfigHome()): ConsoleProc {
    const c = new ConsoleProc(
      Bun.spawn([process.execPath, MAIN, "client", "--host", "127.0.0.1", "--port", String(port)], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        cwd: ROOT,
        env: { ...process.env, XDG_CONFIG_HOME: configHome },
      }),
    );
    consoles.push(c);
    return c;
  }

  type(...lines: string[]): void {
    this.proc.stdin.write(lines.map((l) => `${l}\n`).join(""));
    this.proc.stdin.flush();
  }

  /** Sends a command and returns the first line matching `re` that follows. */
  async run(line: string, re: RegExp): Promise<RegExpMatchArray> {
    this.type(line);
    return this.out.waitFor(re, `${re} after "${line}"`);
  }

  expect(re: RegExp, timeoutMs = WAIT_MS): Promise<RegExpMatchArray> {
    return this.out.waitFor(re, String(re), timeoutMs);
  }

  /** Ends the input; resolves with the exit code. */
  async end(): Promise<number> {
    this.proc.stdin.end();
    return this.proc.exited;
  }
}

/** Every console started, for killConsoles(). */
const consoles: ConsoleProc[] = [];
const configHomes: string[] = [];

/** A directory for one console user's remembered sessions, removed after the file. */
export function freshConfigHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-console-"));
  configHomes.push(dir);
  return dir;
}
/** Kills the consoles still running (after each test). */
export function killConsoles(): void {
  for (const c of consoles.splice(0)) if (c.proc.exitCode === null) c.proc.kill();
}

/** Removes the config directories made so far (after the file). */
export function removeConfigHomes(): void {
  for (const dir of configHomes.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Registers `name` from the start menu; registering logs in. Returns the new id. */
export async function registerAndLogin(c: ConsoleProc, name: string, password = "pass-word-1"): Promise<number> {
  await c.expect(/^\* connected to node \w+$/);
  const [, id] = await c.run(`2\n${name}\n${password}`, /^ok: registered \S+ with id (\d+)$/);
  // Registering logs the new user in.
  await c.expect(new RegExp(`^ok: logged in as ${name}\\(${id}\\) on node \\w+$`));
  await c.expect(/^pending messages: \d+$/);
  return Number(id);
}
