/**
 * The chat port a server listens on and a client dials when none is given
 * (PROTOCOL.md, "Transport and framing"). The server's and the client's
 * defaults and the command line's help all read it from here.
 */
export const DEFAULT_PORT = 6000;
