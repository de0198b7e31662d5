/**
 * The protocol's framing as a client reads it, written once for every client
 * in test/support: bytes in, one callback per newline-terminated line, and a
 * lenient JSON decode that reports a line that is not a frame instead of
 * throwing.
 */

/** One decoded frame. Tests read any field, so the values are loose. */
export type Frame = Record<string, any>;

/**
 * Splits a byte stream into lines (without their `\n`).
 *
 * Each chunk goes through one streaming UTF-8 decoder, which holds back a
 * character whose bytes are split across reads until its rest arrives; the
 * lines are then cut from the decoded text. Cutting text rather than bytes is
 * what keeps this cheap enough for the load generator: one native decode per
 * read instead of one per line (about half the cost per line with many
 * small reads, measured on Bun 1.4). The server's frame reader works on bytes
 * because it must count them against its limit; a client has no limit to
 * enforce. Invalid UTF-8 from the server decodes to U+FFFD, never hides a
 * newline (0x0A is never part of a multi-byte sequence) and so shows up in
 * whatever the test compares.
 */
export class LineReader {
  readonly #decoder = new TextDecoder();
  readonly #onLine: (line: string) => void;
  #rest = "";

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feeds one read; calls onLine for every line it completes, empty lines included. */
  push(chunk: Uint8Array): void {
    let text = this.#decoder.decode(chunk, { stream: true });
    if (this.#rest.length) {
      text = this.#rest + text;
      this.#rest = "";
    }
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      this.#onLine(text.slice(start, nl));
      start = nl + 1;
    }
    if (start < text.length) this.#rest = start === 0 ? text : text.slice(start);
  }

  /** Text received after the last newline (a frame still arriving, or one the server never ended). */
  get rest(): string {
    return this.#rest;
  }
}

/** A line as a frame: a JSON object, or undefined for anything else (garbage, an array, a bare value). */
export function parseFrame(line: string): Frame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined; // not JSON: the caller decides what garbage means to it
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Frame) : undefined;
}

/** A frame's text on the wire: JSON and the newline that ends it. */
export function encodeFrame(frame: Frame): string {
  return `${JSON.stringify(frame)}\n`;
}

/** Whether a frame is a reply (ok or error) rather than a push or the hello. */
export function isReply(f: Frame): boolean {
  return f.type === "ok" || f.type === "error";
}
