/**
 * A logged-in session: one user on one connection. It caches what the hot
 * path checks (friends, groups) and, while the login's pending messages are
 * being replayed, holds live pushes back so that they come after the replay.
 */
export interface PushTarget {
  /** Queues one frame (a JSON line with its newline) for the socket. */
  write(line: string): void;
  readonly closed: boolean;
}

/** Live pushes held during a replay beyond which the connection is given up. */
const MAX_HELD = 10_000;

export class Session {
  /** Friends as last seen; a miss is checked against the database. */
  readonly friends = new Set<number>();
  /** Groups this user is a member of. */
  readonly groups = new Set<number>();
  /** Tokens to revoke at logout: the one issued to this session and the one it logged in with. */
  readonly tokens: string[] = [];
  #held: { line: string; mid?: number }[] | null = [];
  #replayed: Set<number> | null = new Set();
  #ended = false;

  constructor(
    /** Unique within the cluster: node id and connection number. */
    readonly key: string,
    readonly user: { id: number; name: string },
    readonly out: PushTarget,
    readonly onOverflow: () => void,
  ) {}

  get ended(): boolean {
    return this.#ended || this.out.closed;
  }

  /** Marks the session ended; false when it already was. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  /** A live push. `mid` marks a message, so that a replayed copy is not sent twice. */
  push(line: string, mid?: number) {
    if (this.ended) return;
    if (this.#held) {
      if (this.#held.length >= MAX_HELD) return this.onOverflow();
      this.#held.push({ line, mid });
      return;
    }
    this.out.write(line);
  }

  /** A message replayed from the pending table, written before any held live push. */
  replay(line: string, mid: number) {
    if (this.ended) return;
    this.#replayed?.add(mid);
    this.out.write(line);
  }

  /** Ends the replay: held pushes go out, minus messages the replay already sent. */
  live() {
    const held = this.#held;
    const replayed = this.#replayed;
    this.#held = null;
    this.#replayed = null;
    if (!held || this.ended) return;
    for (const h of held) if (h.mid === undefined || !replayed?.has(h.mid)) this.out.write(h.line);
  }
}
