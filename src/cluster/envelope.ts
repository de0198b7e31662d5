/**
 * What travels on the bus between nodes, and on which channel. Every
 * envelope names the node it came from; a node ignores its own, which it
 * delivered locally when it sent them.
 *
 *   chat:u:<id>  pushes for the sessions of user <id>, changes to what
 *                those sessions may do (their friends, their groups), and
 *                the order to end them all (a ban)
 *   chat:g:<id>  pushes for the sessions of the members of group <id>
 */
import type { ErrorCode } from "../protocol/errors.ts";

export const userChannel = (id: number) => `chat:u:${id}`;
export const groupChannel = (id: number) => `chat:g:${id}`;

/** A message's place in the order promise: its mid and its conversation (see conversationOf). */
export interface MsgRef {
  mid: number;
  conv: string;
}

/**
 * A change to what a user's sessions may do, applied to every one of them on
 * every node (each session caches its friends and groups for the hot path).
 */
export type RosterChange =
  | { kind: "friend_added"; friend: number }
  | { kind: "friend_removed"; friend: number }
  | { kind: "group_joined"; group: number }
  | { kind: "group_left"; group: number };

/**
 * A push to the sessions of a user or of a group's members. `frame` is the
 * JSON line to write (absent when only `change` is carried); `except` is the
 * session key that must not get it (the requesting session); `msg` marks a
 * chat message, for order; `change` is applied before the frame is written;
 * `sentAt` is the message's `ts` on the push to its recipients, for the
 * send-to-push latency (absent on copies to the sender's other sessions, so
 * that each message is timed once per node).
 */
export interface PushEnvelope {
  kind: "push";
  origin: string;
  frame?: string;
  except?: string;
  /** The user whose sessions must not get it (the typer's, for `typing`). */
  exceptUser?: number;
  msg?: MsgRef;
  change?: RosterChange;
  sentAt?: number;
}

/** The origin node now has sessions of this channel's user too. */
export interface HereEnvelope {
  kind: "here";
  origin: string;
}

/** Why every session of a user ends at once; each reason is an `error` code the sessions get. */
export const END_REASONS = ["banned", "account_deleted"] as const satisfies readonly ErrorCode[];
export type EndReason = (typeof END_REASONS)[number];

/**
 * Every session of this channel's user ends, on every node: each gets an
 * `error` frame without `re` whose code is `reason`, then its connection
 * closes. Sent by `chat admin ban`, whose origin is no node.
 */
export interface EndSessionsEnvelope {
  kind: "end_sessions";
  origin: string;
  reason: EndReason;
}

export type Envelope = PushEnvelope | HereEnvelope | EndSessionsEnvelope;

export function encodeEnvelope(e: Envelope): string {
  return JSON.stringify(e);
}

/** The envelope in a bus message; undefined for anything that is not one (a newer or broken node). */
export function decodeEnvelope(text: string): Envelope | undefined {
  let e: unknown;
  try {
    e = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof e !== "object" || e === null) return undefined;
  const env = e as Partial<Envelope>;
  if (typeof env.origin !== "string") return undefined;
  if (env.kind === "here") return env as HereEnvelope;
  if (env.kind === "end_sessions") {
    const reason = (env as Partial<EndSessionsEnvelope>).reason;
    return (END_REASONS as readonly unknown[]).includes(reason) ? (env as EndSessionsEnvelope) : undefined;
  }
  if (env.kind !== "push") return undefined;
  const p = env as PushEnvelope;
  if (p.frame !== undefined && typeof p.frame !== "string") return undefined;
  if (p.msg !== undefined && (typeof p.msg?.mid !== "number" || typeof p.msg?.conv !== "string")) return undefined;
  if (p.sentAt !== undefined && typeof p.sentAt !== "number") return undefined;
  return p;
}

/** The target of a channel: a user's or a group's id. */
export function channelTarget(channel: string): { user: number } | { group: number } | undefined {
  const id = Number(channel.slice(channel.lastIndexOf(":") + 1));
  if (!Number.isSafeInteger(id)) return undefined;
  if (channel.startsWith("chat:u:")) return { user: id };
  if (channel.startsWith("chat:g:")) return { group: id };
  return undefined;
}
