#!/usr/bin/env bun
/**
 * The `chat` command: `chat server`, `chat client`, `chat migrate`.
 * Run from source as `bun src/main.ts <command>`; `npm run build` makes the
 * single executable dist/chat with the same commands. Each command's options
 * are one table in src/cli/; this file picks the command and reports errors.
 */
import { CLIENT_OPTIONS, CLIENT_SUMMARY, clientCommand } from "./cli/client-command.ts";
import { MIGRATE_OPTIONS, MIGRATE_SUMMARY, migrateCommand } from "./cli/migrate-command.ts";
import { type Parsed, readArgs, resolveOptions, type Table, UsageError, usage } from "./cli/options.ts";
import { SERVER_OPTIONS, SERVER_SUMMARY, serverCommand } from "./cli/server-command.ts";
import { commit, VERSION } from "./version.ts";

interface Command<T extends Table> {
  options: T;
  summary: string;
  run(parsed: Parsed<T>): Promise<void>;
  /** Options of other commands a shared config file may hold, ignored by this one. */
  alsoInConfig?: Table;
}

const command = <T extends Table>(c: Command<T>) => c as unknown as Command<Table>;

const COMMANDS: Record<string, Command<Table>> = {
  server: command({ options: SERVER_OPTIONS, summary: SERVER_SUMMARY, run: serverCommand }),
  client: command({ options: CLIENT_OPTIONS, summary: CLIENT_SUMMARY, run: clientCommand }),
  migrate: command({ options: MIGRATE_OPTIONS, summary: MIGRATE_SUMMARY, run: migrateCommand, alsoInConfig: SERVER_OPTIONS }),
};

const TOP_USAGE = `usage: chat <command> [options]

commands:
  server    run a chat node
  client    the console client
  migrate   create or update the database schema

chat <command> --help shows a command's options; chat --version prints the version.
`;

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") return void console.log(`chat ${VERSION} (${commit()})`);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") return void process.stdout.write(TOP_USAGE);
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    process.stderr.write(`chat: unknown command "${name}"\n\n${TOP_USAGE}`);
    process.exit(2);
  }
  const text = usage(`chat ${name} [options]`, cmd.summary, cmd.options);
  try {
    const { flags, help } = readArgs(cmd.options, rest);
    if (help) return void process.stdout.write(text);
    await cmd.run(resolveOptions(cmd.options, flags, process.env, cmd.alsoInConfig));
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
