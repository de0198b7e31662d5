/** Bounded waiting: every wait in the lab has a deadline and says what it waited for. */
import type { Socket, TCPSocketConnectOptions } from "bun";
import { existsSync, readFileSync } from "node:fs";

/** The lab's clients speak TLS to the chat nodes, trusting the lab's authority (deploy/make-certs.sh). */
export interface LabTls {
  ca: string;
}

/** Polls `check` every 50 ms until it is true; throws after `ms`, quoting the tail of `log`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms: number, log?: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  const tail = log && existsSync(log) ? `\n--- ${log}:\n` + readFileSync(log, "utf8").split("\n").slice(-20).join("\n") : "";
  throw new Error(`${what}: not ready within ${ms} ms${tail}`);
}

/**
 * Bun.connect() with a deadline: a SYN lost while the VIP moves would
 * otherwise wait for the kernel's retransmit (1 s, then 3 s, ...). A socket
 * that connects after the deadline is closed at once.
 */
export async function connectWithin<T = undefined>(options: TCPSocketConnectOptions<T>, ms: number): Promise<Socket<T>> {
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

/** Connects (with TLS when `tls` is given), optionally writes `probe`, resolves with what arrived within `ms` (empty when refused). */
export async function tcpRead(host: string, port: number, probe = "", ms = 1_000, enough = (s: string) => s.length > 0, tls?: LabTls): Promise<string> {
  let got = "";
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let sock: Socket<undefined> | undefined;
  const timer = setTimeout(() => done(), ms);
  try {
    sock = await connectWithin({
      hostname: host,
      port,
      tls,
      socket: {
        data(_s, d) {
          got += d.toString();
          if (enough(got)) done();
        },
        close: () => done(),
        error: () => done(),
      },
    }, ms);
    if (probe) sock.write(probe);
    await finished;
  } catch {
    // Refused, unreachable or timed out: nothing arrived.
  } finally {
    clearTimeout(timer);
    sock?.terminate();
  }
  return got;
}

export async function tcpGreets(host: string, port: number, probe = ""): Promise<boolean> {
  return (await tcpRead(host, port, probe, 500)).length > 0;
}

/** The `node` of the hello frame a chat endpoint sends, or undefined. */
export async function tcpHello(host: string, port: number, ms = 1_000, tls?: LabTls): Promise<string | undefined> {
  const line = (await tcpRead(host, port, "", ms, (s) => s.includes("\n"), tls)).split("\n")[0];
  if (!line) return undefined;
  try {
    const f = JSON.parse(line) as { type?: string; node?: string };
    return f.type === "hello" ? f.node : undefined;
  } catch {
    return undefined; // not a chat server
  }
}
