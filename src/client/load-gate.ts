/**
 * The load cycle a list that follows pushes goes through (ConversationList,
 * RequestList): idle until it is loaded; events that arrive while it loads
 * wait and are applied on top of what the load returns; a reset, or a newer
 * load, makes answers still on their way count for nothing.
 */
export type LoadState = "idle" | "loading" | "ready";

export class LoadGate {
  #state: LoadState = "idle";
  /** Events that arrived while loading, for after the load. */
  #held: Array<() => void> | null = null;
  /** Bumped by every load and reset: an answer of an older one is dropped. */
  #generation = 0;

  get state(): LoadState {
    return this.#state;
  }

  /** The current load or reset; compare with `current` when an answer comes. */
  get generation(): number {
    return this.#generation;
  }

  /** A load starts: returns its generation. */
  begin(): number {
    this.#state = "loading";
    this.#held = [];
    return ++this.#generation;
  }

  /** Whether an answer asked for at `generation` still counts. */
  current(generation: number): boolean {
    return generation === this.#generation;
  }

  /** The load's answer is in place: the list is ready; returns the events that waited, to apply now. */
  ready(): Array<() => void> {
    const held = this.#held ?? [];
    this.#state = "ready";
    this.#held = null;
    return held;
  }

  /** The load of `generation` failed: idle again, unless a newer load or reset came meanwhile. */
  failed(generation: number): void {
    if (this.current(generation)) this.#idle();
  }

  /** Idle, and whatever is on its way counts for nothing. */
  reset(): void {
    this.#generation++;
    this.#idle();
  }

  /** Runs `now` when ready, keeps `later` for after the load when loading, does nothing when idle. */
  apply(now: () => void, later: () => void = now): void {
    if (this.#state === "ready") now();
    else if (this.#state === "loading") this.#held?.push(later);
  }

  #idle(): void {
    this.#state = "idle";
    this.#held = null;
  }
}
