/**
 * The seam between ClientBase and the wire: a link is one connection to a
 * server, greeted by its `hello`, that carries frames both ways. ClientBase
 * dials a new link for every (re)connect and never reuses one. Two kinds
 * exist: TCP or TLS (link.ts, Bun only) and WebSocket (ws-link.ts, the
 * standard `WebSocket`: browsers and Bun).
 */
import { ProtocolError } from "./errors.ts";
import type { HelloPush } from "./types.ts";

export interface LinkEvents {
  /** a parsed frame after `hello` */
  frame(frame: Record<string, unknown>): void;
  /** the connection is gone; `error` says why unless it ended cleanly */
  closed(error?: Error): void;
}

/** What every kind of link is given when dialing. */
export interface DialOptions {
  /** time allowed from dialing to `hello`, ms */
  connectTimeoutMs: number;
  /** longest frame accepted from the server, bytes */
  maxFrame: number;
}

export interface ClientLink {
  /** the server's `hello` */
  readonly hello: HelloPush;
  /** the server's node id */
  readonly node: string;
  readonly closed: boolean;
  /** Bytes written and not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Resolves when the connection has closed. */
  readonly whenClosed: Promise<void>;
  /**
   * Sends one frame: `json` is the frame's JSON text, `bytes` the same text
   * in UTF-8 followed by the newline (TCP writes those, WebSocket the text).
   */
  send(json: string, bytes: Uint8Array): void;
  /** Ends the connection gracefully (what was written is still sent). */
  close(): Promise<void>;
  /** Cuts the connection at once; `reason` is what `closed` reports. */
  destroy(reason: Error): void;
}

/** Opens a link and resolves once the server's `hello` arrived. */
export type Dialer = (options: DialOptions, events: LinkEvents) => Promise<ClientLink>;

/** Parses one frame's text; null when it is not a JSON object with a string `type`. */
export function parseFrame(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null; // reported by the caller as a protocol error
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const frame = value as Record<string, unknown>;
  return typeof frame.type === "string" ? frame : null;
}

/**
 * One frame's text from the server as a link takes it: the error to end the
 * link with, the greeting (the first frame must be `hello`), or a frame to
 * hand on.
 */
export function readFrame(text: string, greeted: boolean): { error: ProtocolError } | { hello: HelloPush } | { frame: Record<string, unknown> } {
  const frame = parseFrame(text);
  if (!frame) return { error: new ProtocolError(`not a JSON object with a type: ${text.slice(0, 200)}`) };
  if (greeted) return { frame };
  if (frame.type !== "hello" || typeof frame.node !== "string") return { error: new ProtocolError(`expected hello, got ${text.slice(0, 200)}`) };
  return { hello: frame as unknown as HelloPush };
}

/** Keeps a timer from holding the process open (Bun); a browser's timers have no such notion. */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}
