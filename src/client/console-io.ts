/**
 * Line input and output for the console client. On a terminal, lines printed
 * while the user types (incoming messages) do not garble the half-typed line:
 * the line is cleared, the text printed, then the prompt and what was typed
 * are drawn again. Off a terminal (a pipe, a test) there are no prompts and no
 * escape codes: plain lines in, plain lines out.
 */
import * as readline from "node:readline";

/** Returned by `next()` when `interrupt()` was called while waiting. */
export const INTERRUPTED: unique symbol = Symbol("interrupted");

export interface ConsoleIoOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** terminal mode (prompts, redraw, hidden passwords); default: whether input and output are TTYs */
  tty?: boolean;
}

/** readline's internals used to hide a password while it is typed. */
interface ReadlineInternals {
  _writeToOutput(text: string): void;
  line: string;
}

export class ConsoleIo {
  readonly tty: boolean;
  readonly #output: NodeJS.WritableStream;
  readonly #rl: readline.Interface;
  #lines: string[] = [];
  #waiter: ((line: string | null | typeof INTERRUPTED) => void) | null = null;
  #ended = false;
  #prompt = "";
  #secret = false;
  #onEdit: ((line: string) => void) | null = null;
  #edited = "";

  constructor(options: ConsoleIoOptions) {
    const { input, output } = options;
    this.#output = output;
    this.tty =
      options.tty ?? Boolean((input as { isTTY?: boolean }).isTTY && (output as { isTTY?: boolean }).isTTY);
    this.#rl = readline.createInterface({
      input,
      output: this.tty ? output : undefined,
      terminal: this.tty,
      historySize: this.tty ? 100 : 0,
    });
    if (this.tty) {
      this.#hideSecrets();
      // readline listened first, so its line already holds this key.
      input.on("keypress", () => this.#keypress());
    }
    this.#rl.on("line", (line) => this.#onLine(line));
    this.#rl.on("close", () => this.#onEnd());
    // Ctrl-C ends the input like Ctrl-D: the client then exits cleanly.
    this.#rl.on("SIGINT", () => this.#rl.close());
  }

  /** true once the input has ended and every line was read */
  get ended(): boolean {
    return this.#ended && this.#lines.length === 0;
  }

  /**
   * The next line, `null` at the end of input, or INTERRUPTED. `prompt` shows on
   * a terminal only; `secret` hides what is typed (passwords).
   */
  next(prompt = "", options: { secret?: boolean } = {}): Promise<string | null | typeof INTERRUPTED> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) throw new Error("next() while another next() waits");
    this.#prompt = prompt;
    this.#secret = options.secret === true;
    if (this.tty) {
      this.#rl.setPrompt(prompt);
      this.#rl.prompt(true);
    }
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /**
   * On a terminal, `listener` hears the line being typed after each key that
   * changes it, while a `next()` waits (never while a password is typed).
   * Off a terminal lines come whole, and it hears nothing.
   */
  onEdit(listener: (line: string) => void): void {
    this.#onEdit = listener;
  }

  /** Makes a waiting `next()` return INTERRUPTED (the lines typed stay queued). */
  interrupt(): void {
    this.#settle(INTERRUPTED);
  }

  /** Prints one line (or several, joined by newlines) without garbling the input line. */
  print(text: string): void {
    if (!this.tty) {
      this.#output.write(`${text}\n`);
      return;
    }
    readline.clearLine(this.#output, 0);
    readline.cursorTo(this.#output, 0);
    this.#output.write(`${text.replaceAll("\n", "\r\n")}\r\n`);
    if (!this.#waiter) return;
    if (this.#secret) this.#output.write(this.#prompt); // never redraw a password
    else this.#rl.prompt(true);
  }

  close(): void {
    this.#rl.close();
  }

  #keypress(): void {
    if (!this.#waiter || this.#secret || !this.#onEdit) return;
    const line = (this.#rl as unknown as ReadlineInternals).line;
    if (line === this.#edited) return;
    this.#edited = line;
    this.#onEdit(line);
  }

  #onLine(line: string): void {
    this.#edited = "";
    const wasSecret = this.#secret;
    this.#secret = false;
    if (wasSecret && this.tty) this.#output.write("\r\n"); // the Enter was not echoed
    if (this.#waiter) this.#settle(line);
    else this.#lines.push(line);
  }

  #onEnd(): void {
    // Ctrl-C or Ctrl-D at a prompt: end that line, so the shell's starts clean.
    if (this.tty && this.#waiter) this.#output.write("\r\n");
    this.#ended = true;
    this.#settle(null);
  }

  #settle(value: string | null | typeof INTERRUPTED): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.(value);
  }

  #hideSecrets(): void {
    const rl = this.#rl as unknown as ReadlineInternals;
    const write = rl._writeToOutput.bind(rl);
    rl._writeToOutput = (text: string) => {
      if (!this.#secret) return write(text);
      // Redraws while a password is typed show the prompt only, never the typed text.
      if (text.startsWith(this.#prompt) && this.#prompt !== "") write(this.#prompt);
    };
  }
}
