/**
 * A Redis of a test's own on a free loopback port, for tests that stop it
 * and start it again (outages) without touching the suite's shared Redis.
 */
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "../../scripts/services.ts";
import { waitUntil } from "./wait.ts";

export class PrivateRedis {
  #proc: Subprocess | undefined;
  readonly #dir = mkdtempSync(`${tmpdir()}/chat-redis-`);

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A new Redis, listening when this resolves. */
  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.up();
    return r;
  }

  /** Starts it (again, on the same port, empty: nothing is saved). */
  async up() {
    this.#proc = Bun.spawn(["redis-server", "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.#dir], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitUntil(
      "redis listening",
      async () => {
        const s = await Bun.connect({ hostname: "127.0.0.1", port: this.port, socket: { data() {} } }).catch(() => undefined); // refused: not listening yet
        s?.end();
        return !!s;
      },
      5_000,
    );
  }

  /** Kills it (SIGKILL: an outage, not a clean stop) and waits for it to be gone. */
  async down() {
    this.#proc?.kill("SIGKILL");
    await this.#proc?.exited;
  }

  /** Kills it and removes its directory. */
  async close() {
    await this.down();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
