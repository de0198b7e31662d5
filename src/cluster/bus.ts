/**
 * The bus carries pushes between nodes. A node subscribes to the channels of
 * the users and groups that have sessions on it; a publish reaches every other
 * node subscribed to that channel. Delivery is best effort: durability is the
 * database's, and whatever the bus loses is still pending for its recipients.
 */
export interface Bus {
  /** "local" for the in-process bus; "up"/"down" for Redis. */
  readonly state: "local" | "up" | "down";
  publish(channel: string, message: string): void;
  /** Resolves once the subscription is active (or has failed: delivery is best effort). */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): void;
  /** Where messages from other nodes go. One handler per bus. */
  onMessage(handler: (channel: string, message: string) => void): void;
  close(): Promise<void>;
}

/** A single node: every session is local, so there is nobody to publish to. */
export function createLocalBus(): Bus {
  return {
    state: "local",
    publish() {},
    subscribe: async () => {},
    unsubscribe() {},
    onMessage() {},
    async close() {},
  };
}
