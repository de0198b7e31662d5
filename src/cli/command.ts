/**
 * What a `chat` command is: its option table, its arguments, what it does.
 * A group (`chat admin`) is a table of such commands under one name.
 */
import type { Parsed, Table } from "./options.ts";

export interface Command<T extends Table> {
  options: T;
  /** One paragraph for --help. */
  summary: string;
  /** Its line in its group's list of commands (a few words); the summary's first sentence when absent. */
  brief?: string;
  /** Its arguments as --help shows them, optional ones in brackets: `["USER"]`, `["[NAME]"]`. None when absent. */
  args?: readonly string[];
  run(parsed: Parsed<T>, args: string[]): Promise<void>;
  /** Options of other commands a shared config file may hold, ignored by this one. */
  alsoInConfig?: Table;
}

export interface CommandGroup {
  summary: string;
  commands: Record<string, Command<Table>>;
}

/** Erases a command's own option type, so that commands of different tables share one list. */
export const command = <T extends Table>(c: Command<T>) => c as unknown as Command<Table>;
