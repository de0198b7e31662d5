/**
 * A WebSocket message as a frame (PROTOCOL.md, "WebSocket transport"): each
 * message carries exactly one frame, which may end in one newline. The
 * server reads clients' messages with it, the client library the server's.
 */
import { BadFrame, type Frame, TOO_LARGE } from "./frame-reader.ts";

// Not Buffer: the client library reads its WebSocket messages with this too, in browsers.
const encoder = new TextEncoder();

/**
 * The frame a message carries; undefined for an empty or white-space
 * message, which is ignored as a blank line is on TCP. `maxFrame` counts the
 * message's UTF-8 bytes plus one, as if it ended in a newline.
 */
export function frameOfMessage(message: string | Uint8Array, maxFrame: number): Frame | undefined {
  if (typeof message !== "string") return new BadFrame("a WebSocket message must be text, not binary");
  const text = message.endsWith("\n") ? message.slice(0, -1) : message;
  // A UTF-16 unit is at most 3 UTF-8 bytes: most messages need no count.
  if (text.length * 3 + 1 > maxFrame && encoder.encode(text).length + 1 > maxFrame) return TOO_LARGE;
  if (text.includes("\n")) return new BadFrame("a WebSocket message carries exactly one frame, without newlines inside");
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === "")) return undefined;
  return text;
}
