/**
 * An outage latch: a backing service's up/down state for the logs, one line
 * when it goes down, one when it is back, however many requests fail in
 * between. While down, a probe runs every second (unref'd) to notice the
 * recovery.
 */
import type { Logger } from "../log.ts";

export class OutageLatch {
  #down = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly name: string,
    readonly log: Logger,
    readonly probe: () => Promise<unknown>,
  ) {}

  get down(): boolean {
    return this.#down;
  }

  /** A request failed because this service is unavailable. */
  failed(error: unknown) {
    if (this.#down) return;
    this.#down = true;
    this.log.warn(`${this.name}_down`, { error });
    this.#timer = setInterval(() => {
      this.probe().then(
        () => {
          if (!this.#down) return;
          this.#down = false;
          this.close();
          this.log.info(`${this.name}_up`, {});
        },
        () => {}, // still down: said once already
      );
    }, 1000);
    this.#timer.unref();
  }

  close() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
