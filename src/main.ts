#!/usr/bin/env bun
/**
 * The `chat` command: `chat server`, `chat client`, `chat migrate`, and the
 * operator's `chat admin <command>`.
 * Run from source as `bun src/main.ts <command>`; `npm run build` makes the
 * single executable dist/chat with the same commands. Each command's options
 * are one table in src/cli/; this file picks the command and reports errors.
 */
import { ADMIN } from "./cli/admin-command.ts";
import { CLIENT_OPTIONS, CLIENT_SUMMARY, clientCommand } from "./cli/client-command.ts";
import { type Command, type CommandGroup, command } from "./cli/command.ts";
import { MIGRATE_OPTIONS, MIGRATE_SUMMARY, migrateCommand } from "./cli/migrate-command.ts";
import { readArgs, resolveOptions, type Table, UsageError, usage } from "./cli/options.ts";
import { SERVER_OPTIONS, SERVER_SUMMARY, serverCommand } from "./cli/server-command.ts";
import { commit, VERSION } from "./version.ts";
import { createSite } from "./web/site.ts";

const COMMANDS: Record<string, Command<Table> | CommandGroup> = {
  // The web port serves the web client (src/web/), bundled into this executable.
  server: command({ options: SERVER_OPTIONS, summary: SERVER_SUMMARY, run: (parsed) => serverCommand(parsed, { site: createSite() }) }),
  client: command({ options: CLIENT_OPTIONS, summary: CLIENT_SUMMARY, run: clientCommand }),
  migrate: command({ options: MIGRATE_OPTIONS, summary: MIGRATE_SUMMARY, run: migrateCommand, alsoInConfig: SERVER_OPTIONS }),
  admin: ADMIN,
};

const TOP_USAGE = `usage: chat <command> [options]

commands:
  server    run a chat node
  client    the console client
  migrate   create or update the database schema
  admin     operate a running cluster: users, bans, groups, nodes, figures

chat <command> --help shows a command's options; chat --version prints the version.
`;

const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h" || arg === "help";
const lookup = <T>(table: Record<string, T>, name: string): T | undefined => (Object.hasOwn(table, name) ? table[name] : undefined);

/** A group's --help: its commands, one line each. */
function groupUsage(name: string, group: CommandGroup): string {
  const names = Object.keys(group.commands);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = Object.entries(group.commands).map(([n, c]) => `  ${n.padEnd(width)}${c.brief ?? c.summary.split(/(?<=\.)\s/)[0]}`);
  return (
    `usage: chat ${name} <command> [arguments] [options]\n\n${group.summary}\n\n` +
    `commands:\n${lines.join("\n")}\n\nchat ${name} <command> --help shows a command's arguments and options.\n`
  );
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") return void console.log(`chat ${VERSION} (${commit()})`);
  if (name === undefined || isHelp(name)) return void process.stdout.write(TOP_USAGE);
  const entry = lookup(COMMANDS, name);
  if (!entry) {
    process.stderr.write(`chat: unknown command "${name}"\n\n${TOP_USAGE}`);
    process.exit(2);
  }
  if (!("commands" in entry)) return runCommand(name, entry, rest);
  const [sub, ...args] = rest;
  if (sub === undefined || isHelp(sub)) return void process.stdout.write(groupUsage(name, entry));
  const cmd = lookup(entry.commands, sub);
  if (!cmd) {
    process.stderr.write(`chat ${name}: unknown command "${sub}"\n\n${groupUsage(name, entry)}`);
    process.exit(2);
  }
  return runCommand(`${name} ${sub}`, cmd, args);
}

async function runCommand(name: string, cmd: Command<Table>, rest: string[]): Promise<void> {
  const argList = cmd.args ?? [];
  const text = usage(`chat ${name}${argList.map((a) => ` ${a}`).join("")} [options]`, cmd.summary, cmd.options);
  try {
    const { flags, help, args } = readArgs(cmd.options, rest, argList.length > 0);
    if (help) return void process.stdout.write(text);
    const required = argList.filter((a) => !a.startsWith("[")).length;
    if (args.length < required) throw new UsageError(`missing ${argList.slice(args.length, required).join(" ")}`);
    if (args.length > argList.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[argList.length])}`);
    await cmd.run(resolveOptions(cmd.options, flags, process.env, cmd.alsoInConfig), args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`chat ${name}: ${e.message}\n${e.withUsage ? `\n${text}` : `see: chat ${name} --help\n`}`);
      process.exit(2);
    }
    process.stderr.write(`chat ${name}: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
