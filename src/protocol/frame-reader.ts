/**
 * Splits a byte stream into newline-terminated frames. Works on bytes, not on
 * decoded text: a read that ends inside a multi-byte UTF-8 character is held
 * until the rest arrives, and each complete line is decoded once.
 */

/** Default frame limit in bytes, newline included (PROTOCOL.md). */
export const DEFAULT_MAX_FRAME = 65_536;

const NEWLINE = 0x0a;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The line was longer than the limit; the reader is now unusable. */
export const TOO_LARGE: unique symbol = Symbol("frame_too_large");
/** The line's bytes are not valid UTF-8. */
export const BAD_UTF8: unique symbol = Symbol("bad_utf8");

/**
 * Something that arrived as a frame but cannot be one (a binary WebSocket
 * message, or two frames in one message): answered `bad_frame` with this
 * reason, and the connection stays usable.
 */
export class BadFrame {
  constructor(readonly reason: string) {}
}

/** What a byte stream yields: a line, or why it is none. */
export type StreamFrame = string | typeof TOO_LARGE | typeof BAD_UTF8;

export type Frame = StreamFrame | BadFrame;

export class FrameReader {
  /** Bytes of the current, unterminated line. */
  #partial: Uint8Array | null = null;
  #failed = false;

  /** @param maxFrame longest frame in bytes, newline included (default 65536) */
  constructor(readonly maxFrame: number = DEFAULT_MAX_FRAME) {
    if (!(maxFrame >= 2)) throw new TypeError("maxFrame must be at least 2 bytes");
  }

  /**
   * Feeds one chunk; returns the complete lines in it, decoded, without the
   * newline. Empty lines are skipped. After TOO_LARGE the reader returns nothing
   * more: the connection is to be closed.
   */
  push(chunk: Uint8Array): StreamFrame[] {
    const out: StreamFrame[] = [];
    if (this.#failed) return out;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const line = this.#take(chunk, start, nl);
      start = nl + 1;
      if (line === TOO_LARGE) {
        out.push(TOO_LARGE);
        return out;
      }
      if (line.length === 0) continue; // empty lines are ignored
      out.push(decode(line));
    }
    if (start < chunk.length) {
      const pending = (this.#partial?.length ?? 0) + (chunk.length - start);
      // The newline would make it one byte longer still.
      if (pending + 1 > this.maxFrame) {
        this.#fail();
        out.push(TOO_LARGE);
        return out;
      }
      const rest = chunk.subarray(start);
      // Copy: the caller may reuse its buffer after this call returns (Bun reuses
      // its read buffer), and Buffer#slice would only make a view of it.
      this.#partial = this.#partial ? concat(this.#partial, rest) : new Uint8Array(rest);
    }
    return out;
  }

  /** Bytes held for an unterminated line. */
  get buffered(): number {
    return this.#partial?.length ?? 0;
  }

  #take(chunk: Uint8Array, start: number, end: number): Uint8Array | typeof TOO_LARGE {
    const part = chunk.subarray(start, end);
    const whole = this.#partial ? concat(this.#partial, part) : part;
    this.#partial = null;
    if (whole.length + 1 > this.maxFrame) {
      this.#fail();
      return TOO_LARGE;
    }
    return whole;
  }

  #fail() {
    this.#failed = true;
    this.#partial = null;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function decode(line: Uint8Array): string | typeof BAD_UTF8 {
  try {
    return decoder.decode(line);
  } catch {
    return BAD_UTF8; // the caller answers bad_frame; the stream stays usable
  }
}
