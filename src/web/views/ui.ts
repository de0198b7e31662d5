/** What every view is handed: the chat state and the page's navigation. */
import type { WebChat } from "../web-chat.ts";

export type Tab = "chats" | "people" | "groups";

export interface Ui {
  readonly chat: WebChat;
  /** the open conversation's key (`u:8`, `g:3`), if any */
  readonly current: string | undefined;
  /** Opens a conversation (and, on a phone, shows it instead of the list). */
  open(key: string): void;
  /** Runs a user's action; a failure is shown, never thrown away. */
  act(action: () => Promise<unknown>): Promise<void>;
  /** Shows a short message to the user; `bad` for a failure. */
  notice(text: string, bad?: boolean): void;
}
