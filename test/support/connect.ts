/** TCP connects with a deadline, for every client in test/support and the lab's probes. */
import type { Socket, TCPSocketConnectOptions } from "bun";

/** Bun.connect's options plus a source address, which Bun 1.4 honours though bun-types does not declare it. */
export type ConnectOptions<T> = TCPSocketConnectOptions<T> & { localAddress?: string };

/**
 * Bun.connect() with a deadline: a SYN lost while a VIP moves would otherwise
 * wait for the kernel's retransmits (1 s, then 3 s, ...). A socket that
 * connects after the deadline is closed at once.
 */
export async function connectWithin<T = undefined>(options: ConnectOptions<T>, ms: number): Promise<Socket<T>> {
  const attempt = Bun.connect<T>(options);
  let timer: Timer | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    const sock = await Promise.race([attempt, late]);
    if (sock) return sock;
  } finally {
    clearTimeout(timer);
  }
  attempt.then((s) => s.terminate(), () => undefined); // gave up on it: whatever it becomes, close it
  throw new Error(`connect to ${options.hostname}:${options.port} timed out after ${ms} ms`);
}
