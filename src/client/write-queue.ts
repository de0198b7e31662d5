/**
 * Ordered writes over a non-blocking socket. `socket.write` may take only part
 * of a buffer when the kernel's send buffer is full; the rest, and everything
 * written after it, waits here until `drain`.
 */
export class WriteQueue {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  /** @param write writes bytes, returns how many it took (-1 when closed) */
  constructor(private readonly write: (bytes: Uint8Array) => number) {}

  /** Bytes waiting for the socket. */
  get pending(): number {
    return this.#bytes;
  }

  push(bytes: Uint8Array): void {
    if (this.#chunks.length > 0) {
      this.#enqueue(bytes);
      return;
    }
    const n = this.write(bytes);
    if (n < bytes.length) this.#enqueue(bytes.subarray(Math.max(0, n)));
  }

  /** Call on the socket's `drain`: writes what waits until the socket pushes back again. */
  drain(): void {
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const n = this.write(chunk);
      if (n > 0) this.#bytes -= Math.min(n, chunk.length);
      if (n < chunk.length) {
        if (n > 0) this.#chunks[0] = chunk.subarray(n);
        return;
      }
      this.#chunks.shift();
    }
  }

  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  #enqueue(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#bytes += bytes.length;
  }
}
