/**
 * The client's errors. Each has a stable string `code`: a server's `error`
 * reply keeps the server's code; failures found by the client have their own.
 */

/** Base class: every error the client library rejects with. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered a request with an `error` frame. */
export class RequestError extends ClientError {
  constructor(
    code: string,
    message: string,
    /** the request's `type` (op), when known */
    readonly op?: string,
  ) {
    super(code, message);
  }
}

/**
 * The connection closed (or was never open) before the reply arrived. Whether
 * the server executed the request is unknown.
 */
export class ConnectionClosedError extends ClientError {
  constructor(message = "connection closed", options?: ErrorOptions) {
    super("connection_closed", message, options);
  }
}

/** Connecting, or a reply, took longer than allowed. */
export class TimeoutError extends ClientError {
  constructor(message: string) {
    super("timeout", message);
  }
}

/** Could not open a connection (refused, unreachable, TLS failure). */
export class ConnectError extends ClientError {
  constructor(message: string, options?: ErrorOptions) {
    super("connect_failed", message, options);
  }
}

/** The server sent something that is not a valid frame; the connection is dropped. */
export class ProtocolError extends ClientError {
  constructor(message: string) {
    super("protocol_error", message);
  }
}

/** A request larger than the server's frame limit; it was not sent. */
export class FrameTooLargeError extends ClientError {
  constructor(bytes: number, limit: number) {
    super("frame_too_large", `request is ${bytes} bytes, the limit is ${limit}`);
  }
}
