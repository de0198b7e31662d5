export * from "./connection.ts";
export * from "./errors.ts";
export type * from "./types.ts";
export type { ClientTlsOptions } from "./link.ts";
export type { AckBatcherOptions } from "./ack-batcher.ts";
export type { BackoffOptions } from "./backoff.ts";
export { runConsole, type ConsoleOptions } from "./console.ts";
export * from "./conversation-list.ts";
export * from "./request-list.ts";
