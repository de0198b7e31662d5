/** `chat client`: its option table, and the console client run with them. */
import { DEFAULTS } from "../client/options.ts";
import type { Parsed, Table } from "./options.ts";
import { int, pemFile, text, toggle } from "./value-types.ts";

export const CLIENT_OPTIONS = {
  host: { type: text("ADDR"), env: "CHAT_CLIENT_HOST", help: "server address", default: DEFAULTS.host },
  port: { type: int(1, 65535), env: "CHAT_CLIENT_PORT", help: "server port", default: DEFAULTS.port },
  tls: { type: toggle, help: "connect with TLS" },
  ca: { type: pemFile, help: "PEM CA certificate to trust (deploy/make-certs.sh's ca.pem, or a self-signed server's own certificate); implies --tls" },
} satisfies Table;

export const CLIENT_SUMMARY =
  "The console client: log in or register, then chat. Reads commands line by line when stdin is not a terminal.";

export async function clientCommand({ values }: Parsed<typeof CLIENT_OPTIONS>): Promise<void> {
  const { runConsole } = await import("../client/console.ts");
  const { defaultSessionDir } = await import("../client/session-store.ts");
  process.exit(await runConsole({ ...values, tls: values.tls === true, sessionDir: defaultSessionDir() }));
}
