/**
 * One frame in, exactly one reply out: the envelope, the type, the fields,
 * the login check, then the handler. The order of the checks is PROTOCOL.md's
 * "which error wins".
 */
import { ChatError, type ErrorCode, isChatError } from "../protocol/errors.ts";
import { BAD_UTF8, BadFrame, type Frame, TOO_LARGE } from "../protocol/frame-reader.ts";
import { isRequestType, type RequestType, validateRequest, validRequestId } from "../protocol/schema.ts";
import { isPassingFailure } from "../store/passing-failures.ts";
import type { Conn } from "./conn.ts";
import { HANDLERS, type Handler } from "./handlers/index.ts";
import type { Ctx, Services } from "./services.ts";

type Id = number | string | undefined;

/**
 * Codes for frames the protocol does not allow: the log gets one line per
 * burst of them per connection (AbuseLog), with the code and the request
 * type when it is a known one, never what was sent.
 */
const BAD_FRAME = new Set<ErrorCode>(["bad_frame", "unknown_type", "frame_too_large"]);

function error(services: Services, conn: Conn, re: Id, code: ErrorCode, message: string) {
  conn.reply(errorLine(services, conn, re, code, message));
}

function errorLine(services: Services, conn: Conn, re: Id, code: ErrorCode, message: string, type?: RequestType): string {
  services.metrics.error(code);
  if (BAD_FRAME.has(code)) services.abuse.hit(conn, "bad_frame", { code, type });
  return JSON.stringify({ type: "error", re, code, message }) + "\n";
}

/** The reply to a request whose handler threw. */
function failureLine(services: Services, conn: Conn, type: RequestType, re: Id, e: unknown): string {
  if (isChatError(e)) return errorLine(services, conn, re, e.code, e.message, type);
  if (isPassingFailure(e)) {
    services.mysql.failed(e);
    return errorLine(services, conn, re, "unavailable", "a backing service is unavailable; try again");
  }
  services.log.error("request_failed", { type, error: e, stack: (e as Error)?.stack?.split("\n").slice(0, 4).join(" | ") });
  return errorLine(services, conn, re, "internal", "internal error");
}

function okLine(re: Id, result: object | undefined): string {
  return JSON.stringify({ type: "ok", re, ...result }) + "\n";
}

/** Records how long the request took (validation, handler, its database round trips); returns its reply. */
function answered(services: Services, type: RequestType, started: number, reply: string): string {
  services.metrics.requestDone(type, (performance.now() - started) / 1000);
  return reply;
}

/** Handles one frame from `conn`; resolves once its reply (and any after-reply work) is written. */
export async function dispatch(services: Services, conn: Conn, frame: Frame): Promise<void> {
  if (frame === TOO_LARGE) {
    services.metrics.error("frame_too_large");
    services.abuse.hit(conn, "bad_frame", { code: "frame_too_large" });
    // Replies to earlier requests go first (detached ones too); then the error, then the close.
    await conn.settled();
    conn.write(JSON.stringify({ type: "error", code: "frame_too_large", message: `a frame may be at most ${conn.maxFrame} bytes` }) + "\n");
    conn.end();
    return;
  }
  if (frame === BAD_UTF8) return error(services, conn, undefined, "bad_frame", "the frame is not valid UTF-8");
  if (frame instanceof BadFrame) return error(services, conn, undefined, "bad_frame", frame.reason);
  let req: unknown;
  try {
    req = JSON.parse(frame);
  } catch {
    return error(services, conn, undefined, "bad_frame", "the frame is not valid JSON");
  }
  if (typeof req !== "object" || req === null || Array.isArray(req)) return error(services, conn, undefined, "bad_frame", "the frame is not a JSON object");
  const fields = req as Record<string, unknown>;
  const id = fields.id;
  if (id !== undefined && !validRequestId(id))
    return error(services, conn, undefined, "bad_frame", "id: must be a non-negative integer or a string of at most 64 characters");
  const re = id as Id;
  const type = fields.type;
  if (typeof type !== "string") return error(services, conn, re, "bad_frame", "type: must be a string");
  if (!isRequestType(type)) return error(services, conn, re, "unknown_type", `unknown request type ${JSON.stringify(type.slice(0, 64))}`);
  services.metrics.request(type);
  if (!conn.take()) {
    services.abuse.hit(conn, "rate_limited", { type });
    return error(services, conn, re, "rate_limited", "too many requests on this connection; slow down");
  }

  const ctx: Ctx = { services, conn, session: conn.session };
  const started = performance.now();
  let reply: string;
  try {
    const typed = validateRequest(type, fields);
    const handler = HANDLERS[type] as Handler<RequestType>;
    if (handler.auth && !conn.session) throw new ChatError("not_logged_in", `${type} needs a login`);
    if (handler.detached) {
      // Its reply keeps its place; the connection's next request starts now.
      const slot = conn.reserve();
      Promise.resolve(handler.handle(ctx, typed)).then(
        (result) => conn.fill(slot, answered(services, type, started, okLine(re, result))),
        (e) => conn.fill(slot, answered(services, type, started, failureLine(services, conn, type, re, e))),
      );
      return;
    }
    reply = okLine(re, await handler.handle(ctx, typed));
  } catch (e) {
    reply = failureLine(services, conn, type, re, e);
  }
  const written = conn.reply(answered(services, type, started, reply));
  if (ctx.after) {
    await written;
    await ctx.after();
  }
}
