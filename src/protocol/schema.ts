/**
 * Every request of PROTOCOL.md as a TypeBox schema, compiled once. A schema and
 * its type share a name. Unknown fields are allowed (newer clients may send
 * them); lengths count Unicode code points, which TypeBox's own `maxLength`
 * (UTF-16 units) does not, hence the `CodePoints` kind.
 */
import { Kind, type Static, type TSchema, Type, TypeRegistry } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ChatError } from "./errors.ts";

/** Largest id the protocol allows: positive integers below 2^53. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

interface CodePointsOptions {
  min: number;
  max: number;
  /** A display name: no control characters, no leading or trailing white space. */
  name?: boolean;
}

function codePointLength(s: string): number {
  let n = s.length;
  // Each surrogate pair is two UTF-16 units but one code point.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

// Control characters (C0, DEL, C1) and the line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function codePointsProblem(schema: CodePointsOptions, value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  // Fast reject before counting: a code point is at most 2 UTF-16 units.
  if (value.length > schema.max * 2) return `must be at most ${schema.max} characters`;
  // JSON may carry an unpaired surrogate ("\ud800"); it is no code point, and
  // UTF-8 storage would turn it into U+FFFD, so history would differ from the push.
  if (!value.isWellFormed()) return "must be valid Unicode (no unpaired surrogates)";
  const n = codePointLength(value);
  if (n < schema.min) return schema.min === 1 ? "must not be empty" : `must be at least ${schema.min} characters`;
  if (n > schema.max) return `must be at most ${schema.max} characters`;
  if (schema.name) {
    if (CONTROL.test(value)) return "must not contain control characters";
    if (value.trim() !== value) return "must not start or end with white space";
  }
  return undefined;
}

TypeRegistry.Set<CodePointsOptions>("CodePoints", (schema, value) => codePointsProblem(schema, value) === undefined);

function CodePoints(options: CodePointsOptions) {
  return Type.Unsafe<string>({ [Kind]: "CodePoints", type: "string", ...options });
}

const Id = Type.Integer({ minimum: 1, maximum: MAX_ID });

export const Register = Type.Object({
  name: CodePoints({ min: 1, max: 32, name: true }),
  password: CodePoints({ min: 6, max: 128 }),
});
export type Register = Static<typeof Register>;

export const Login = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  user: Type.Optional(Id),
  // Any length is "wrong password" rather than a malformed frame, within reason.
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
});
export type Login = Static<typeof Login>;

export const Empty = Type.Object({});
export type Empty = Static<typeof Empty>;

/** A request about one other user (add_friend, remove_friend). */
export const UserRef = Type.Object({ user: Id });
export type UserRef = Static<typeof UserRef>;

const Text = CodePoints({ min: 1, max: 4096 });

/** The client's id for a message (exactly-once sends): any 1-64 characters, compared exactly. */
const Cid = CodePoints({ min: 1, max: 64 });

export const Send = Type.Object({ to: Id, text: Text, cid: Type.Optional(Cid) });
export type Send = Static<typeof Send>;

const GroupName = CodePoints({ min: 1, max: 64, name: true });
const GroupDesc = CodePoints({ min: 0, max: 256 });

export const CreateGroup = Type.Object({
  name: GroupName,
  desc: Type.Optional(GroupDesc),
});
export type CreateGroup = Static<typeof CreateGroup>;

/** A role `set_role` gives: the creator's is never given, only passed on. */
const GivenRole = Type.Union([Type.Literal("admin"), Type.Literal("normal")]);

export const SetRole = Type.Object({ group: Id, user: Id, role: GivenRole });
export type SetRole = Static<typeof SetRole>;

export const Kick = Type.Object({ group: Id, user: Id, ban: Type.Optional(Type.Boolean()) });
export type Kick = Static<typeof Kick>;

/** A group and a user in it (or banned from it): `group_unban`. */
export const GroupUser = Type.Object({ group: Id, user: Id });
export type GroupUser = Static<typeof GroupUser>;

export const UpdateGroup = Type.Object({ group: Id, name: Type.Optional(GroupName), desc: Type.Optional(GroupDesc) });
export type UpdateGroup = Static<typeof UpdateGroup>;

export const GroupRef = Type.Object({ group: Id });
export type GroupRef = Static<typeof GroupRef>;

export const GroupSend = Type.Object({ group: Id, text: Text, cid: Type.Optional(Cid) });
export type GroupSend = Static<typeof GroupSend>;

export const Ack = Type.Object({ mids: Type.Array(Id, { minItems: 1, maxItems: 1000 }) });
export type Ack = Static<typeof Ack>;

/** A conversation: one-to-one `with` a friend, or a `group` (exactly one of them). */
const ConversationRef = { with: Type.Optional(Id), group: Type.Optional(Id) };

export const Conversations = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  before: Type.Optional(Id),
});
export type Conversations = Static<typeof Conversations>;

export const Read = Type.Object({ ...ConversationRef, mid: Id });
export type Read = Static<typeof Read>;

export const Typing = Type.Object(ConversationRef);
export type Typing = Static<typeof Typing>;

export const Edit = Type.Object({ mid: Id, text: Text });
export type Edit = Static<typeof Edit>;

export const MessageRef = Type.Object({ mid: Id });
export type MessageRef = Static<typeof MessageRef>;

export const FriendRequest = Type.Object({ user: Id, note: Type.Optional(CodePoints({ min: 0, max: 256 })) });
export type FriendRequest = Static<typeof FriendRequest>;

export const ChangePassword = Type.Object({
  // The old password is checked, not validated: any length is "wrong password".
  old: Type.String({ maxLength: 1024 }),
  new: CodePoints({ min: 6, max: 128 }),
});
export type ChangePassword = Static<typeof ChangePassword>;

export const DeleteAccount = Type.Object({ password: Type.String({ maxLength: 1024 }) });
export type DeleteAccount = Static<typeof DeleteAccount>;

export const FindUser = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
export type FindUser = Static<typeof FindUser>;

export const History = Type.Object({
  with: Type.Optional(Id),
  group: Type.Optional(Id),
  before: Type.Optional(Id),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
});
export type History = Static<typeof History>;

/** A stored message: the body of a `msg` push and of `history` entries. */
export interface ChatMessage {
  mid: number;
  /** the sender's id */
  from: number;
  /** the sender's name */
  name: string;
  /** the recipient, for a one-to-one message */
  to?: number;
  /** the group, for a group message */
  group?: number;
  text: string;
  /** milliseconds since the Unix epoch */
  ts: number;
  /** the sender's id for the message, when it gave one (1.1 `cid`) */
  cid?: string;
  /** when the text was last edited, ms (1.1 `edit`) */
  edited?: number;
  /** when the message was deleted, ms; its text is then "" (1.1 `delete`) */
  deleted?: number;
}

/** The request schema of every operation; a `type` not listed is `unknown_type`. */
export const REQUESTS = {
  register: Register,
  login: Login,
  logout: Empty,
  add_friend: UserRef,
  send: Send,
  create_group: CreateGroup,
  join_group: GroupRef,
  leave_group: GroupRef,
  set_role: SetRole,
  kick: Kick,
  group_unban: GroupUser,
  update_group: UpdateGroup,
  delete_group: GroupRef,
  group_send: GroupSend,
  ack: Ack,
  history: History,
  friends: Empty,
  groups: Empty,
  ping: Empty,
  // version 1.1
  conversations: Conversations,
  read: Read,
  typing: Typing,
  edit: Edit,
  delete: MessageRef,
  remove_friend: UserRef,
  friend_request: FriendRequest,
  accept_friend: UserRef,
  decline_friend: UserRef,
  friend_requests: Empty,
  block: UserRef,
  unblock: UserRef,
  blocked: Empty,
  find_user: FindUser,
  change_password: ChangePassword,
  delete_account: DeleteAccount,
} as const satisfies Record<string, TSchema>;

export type RequestType = keyof typeof REQUESTS;
export type RequestOf<T extends RequestType> = Static<(typeof REQUESTS)[T]>;

const checkers = Object.fromEntries(
  Object.entries(REQUESTS).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as { [T in RequestType]: TypeCheck<(typeof REQUESTS)[T]> };

/** Rules a JSON schema cannot say: which fields go together. */
const CROSS_FIELD: Partial<{ [T in RequestType]: (req: RequestOf<T>) => string | undefined }> = {
  update_group: (r) => (r.name === undefined && r.desc === undefined ? "name: update_group needs name or desc (or both)" : undefined),
  login: (r) => {
    if (r.token !== undefined) {
      if (r.name !== undefined || r.user !== undefined || r.password !== undefined)
        return "token: a token login takes no name, user or password";
      return undefined;
    }
    if (r.name === undefined && r.user === undefined) return "name: login needs name or user (or token)";
    if (r.name !== undefined && r.user !== undefined) return "user: give name or user, not both";
    if (r.password === undefined) return "password: required";
    return undefined;
  },
  history: (r) => oneConversation("history", r),
  read: (r) => oneConversation("read", r),
  typing: (r) => oneConversation("typing", r),
};

function oneConversation(op: string, r: { with?: number; group?: number }): string | undefined {
  if ((r.with === undefined) === (r.group === undefined)) return `with: ${op} needs exactly one of with or group`;
  return undefined;
}

export function isRequestType(type: string): type is RequestType {
  return Object.hasOwn(REQUESTS, type);
}

/**
 * Checks a request's fields; throws `bad_frame` naming the first offending
 * field. Returns the same object, typed.
 */
export function validateRequest<T extends RequestType>(type: T, frame: Record<string, unknown>): RequestOf<T> {
  const check = checkers[type];
  if (!check.Check(frame)) {
    const err = check.Errors(frame).First();
    const field = err ? err.path.replace(/^\//, "").replace(/\//g, ".") : "";
    let problem = err?.message ?? "does not match the schema";
    if (err && (err.schema as unknown as Record<symbol, unknown>)[Kind] === "CodePoints")
      problem = codePointsProblem(err.schema as unknown as CodePointsOptions, err.value) ?? problem;
    else if (err && literals(err.schema)) problem = `must be ${literals(err.schema)}`;
    throw new ChatError("bad_frame", field ? `${field}: ${problem}` : problem);
  }
  const cross = (CROSS_FIELD[type] as ((r: unknown) => string | undefined) | undefined)?.(frame);
  if (cross) throw new ChatError("bad_frame", cross);
  return frame as RequestOf<T>;
}

/** `"admin" or "normal"` for a union of string literals (TypeBox says only "Expected union value"). */
function literals(schema: TSchema): string | undefined {
  const options = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!options?.every((o) => typeof o.const === "string")) return undefined;
  const names = options.map((o) => JSON.stringify(o.const));
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** A request id as the envelope allows it, or `undefined` when it is malformed. */
export function validRequestId(id: unknown): id is number | string {
  if (typeof id === "number") return Number.isSafeInteger(id) && id >= 0;
  // "At most 64 characters": code points, like every length in the protocol.
  if (typeof id === "string") return id.length <= 64 || codePointLength(id) <= 64;
  return false;
}
