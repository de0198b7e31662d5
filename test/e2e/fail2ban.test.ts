/**
 * deploy/fail2ban: the filter matches the failed-login lines a real server
 * writes, with the client's address as the one to ban, in both log formats
 * and in the shape fail2ban's journal backend gives them; it matches nothing
 * else (successes, throttled logins), and a name chosen to look like another
 * address cannot get that one banned. Checked with Debian's fail2ban-regex.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freshDatabase } from "../support/db.ts";
import { spawnNode } from "../support/node.ts";

const ROOT = resolve(import.meta.dir, "../..");
const FILTER = join(ROOT, "deploy/fail2ban/chat.conf");
const JAIL = join(ROOT, "deploy/fail2ban/chat-jail.local");
const dir = mkdtempSync(join(tmpdir(), "chat-fail2ban-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[]): string {
  if (!Bun.which(argv[0] as string))
    throw new Error(`${argv[0]} is missing: install Debian's fail2ban package (sh scripts/bootstrap.sh test does)`);
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited with ${r.exitCode}:\n${r.stdout}${r.stderr}`);
  return r.stdout.toString();
}

/** What fail2ban-regex reports for `lines` with the filter: `out` is msg (the lines matched) or ip (the addresses). */
function regex(name: string, lines: string[], out: "msg" | "ip"): string[] {
  const file = join(dir, name);
  writeFileSync(file, lines.join("\n") + "\n");
  return run(["fail2ban-regex", "-o", out, file, FILTER]).split("\n").filter(Boolean);
}

/** A server's log after some failed and some successful logins from 127.0.0.1. */
async function loginLog(format: "text" | "json"): Promise<string[]> {
  const node = await spawnNode({
    node: `f2b-${format}`,
    mysqlUrl: await freshDatabase(),
    // A low account threshold, so that the log also has a throttled login, which must not match.
    args: ["--log-format", format, "--login-account-failures", "3", "--login-delay", "10s", "--login-max-delay", "10s"],
    readyLine: format === "json" ? '"event":"ready"' : "INFO ready",
  });
  const w = await node.connect();
  const id = (await w.ok({ type: "register", name: "f2b_a", password: "right-password" })).user.id;
  const ok = await w.ok({ type: "login", name: "f2b_a", password: "right-password" });
  const other = await node.connect();
  for (const login of [
    { name: "f2b_a", password: "wrong-1" },
    { user: id, password: "wrong-2" },
    { name: "f2b_nobody", password: "wrong-3" },
    { name: "x remote=10.9.9.9 ", password: "wrong-4" },
    { name: '","remote":"10.8.8.8"', password: "wrong-5" },
    { token: "not-a-token" },
    { name: "f2b_a", password: "wrong-6" }, // the account's third failure: its next login waits
  ])
    expect(await other.req({ type: "login", ...login })).toMatchObject({ code: "bad_credentials" });
  expect(await other.req({ type: "login", name: "f2b_a", password: "wrong-7" })).toMatchObject({ code: "rate_limited" });
  await other.ok({ type: "login", token: ok.token });
  expect(await node.kill("SIGTERM")).toBe(0);
  return node.log().trim().split("\n");
}

/** Whether a log line is a failed login, read the way an operator would, without the filter. */
function isFailure(line: string): boolean {
  return line.startsWith("{") ? JSON.parse(line).event === "login_failed" : line.split(" ")[2] === "login_failed";
}

describe("the fail2ban filter", () => {
  for (const format of ["text", "json"] as const)
    it(`matches every failed login of the ${format} log with 127.0.0.1 as the address, and no other line`, async () => {
      const lines = await loginLog(format);
      const failures = lines.filter(isFailure);
      expect(failures).toHaveLength(7);
      expect(lines.some((l) => l.includes("login_ok"))).toBe(true);
      expect(lines.some((l) => l.includes("login_throttled"))).toBe(true);

      expect(regex(`${format}.log`, lines, "msg")).toEqual(failures);
      expect(regex(`${format}.log`, lines, "ip")).toEqual(failures.map(() => "127.0.0.1"));
      // From the journal (backend = systemd), fail2ban puts "host unit[pid]: " before each message.
      const journal = lines.map((l) => `vm1 chat[4242]: ${l}`);
      expect(regex(`${format}-journal.log`, journal, "ip")).toEqual(failures.map(() => "127.0.0.1"));
    });

  it("loads as a jail with the filter, the journal of chat.service and the chat port", () => {
    // A copy of Debian's configuration with the two files installed where the jail's comments say.
    const etc = join(dir, "etc-fail2ban");
    cpSync("/etc/fail2ban", etc, { recursive: true });
    rmSync(join(etc, "jail.d"), { recursive: true, force: true }); // only this jail (Debian enables sshd there)
    cpSync(FILTER, join(etc, "filter.d/chat.conf"));
    cpSync(JAIL, join(etc, "jail.d/chat.local"));
    // -d: parse and print the configuration, start nothing.
    const dump = run(["fail2ban-client", "-c", etc, "-d"]);
    expect(dump).toContain("['add', 'chat', 'systemd']");
    expect(dump).toContain("login_failed remote=<HOST>");
    expect(dump).toContain("['set', 'chat', 'addjournalmatch', '_SYSTEMD_UNIT=chat.service']");
    expect(dump).toContain("['port', '6000']");
    expect(dump).toContain("['set', 'chat', 'maxretry', 10]");
  });
});
