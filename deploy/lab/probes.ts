/** The lab's probes of what it started: does a port greet, which chat node answers. */
import type { Socket } from "bun";
import { connectWithin } from "../../test/support/connect.ts";
import { Wire } from "../../test/support/wire.ts";

/** The lab's clients speak TLS to the chat nodes, trusting the lab's authority (deploy/make-certs.sh). */
export interface LabTls {
  ca: string;
}

/** Connects, optionally writes `probe`, resolves with what arrived within `ms` (empty when refused). */
export async function tcpRead(host: string, port: number, probe = "", ms = 1_000, enough = (s: string) => s.length > 0): Promise<string> {
  let got = "";
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let sock: Socket<undefined> | undefined;
  const timer = setTimeout(() => done(), ms);
  try {
    sock = await connectWithin({
      hostname: host,
      port,
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

/** Whether anything (MariaDB's handshake, Redis's PONG) answers on host:port within 500 ms. */
export async function tcpGreets(host: string, port: number, probe = ""): Promise<boolean> {
  return (await tcpRead(host, port, probe, 500)).length > 0;
}

/** The `node` of the hello a chat endpoint sends within `ms` (over TLS when `tls` is given), or undefined (refused, silent, not a chat server). */
export async function tcpHello(host: string, port: number, ms = 1_000, tls?: LabTls): Promise<string | undefined> {
  let w: Wire | undefined;
  try {
    w = await Wire.connect(port, { host, tls, timeoutMs: ms, keep: false });
    return typeof w.hello?.node === "string" ? w.hello.node : undefined;
  } catch {
    return undefined; // refused, timed out, or it spoke something other than the protocol
  } finally {
    w?.abort();
  }
}
