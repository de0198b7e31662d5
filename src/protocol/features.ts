/**
 * The 1.1 extensions this server offers, listed in `hello.features` (a client
 * uses an extension only when its name is listed). A name joins the list when
 * all of its extension works; `ws` and `consent` depend on the server's
 * configuration and are added where it is known.
 */
export const FEATURES = ["cid", "conversations", "read", "typing", "edit", "delete", "unfriend", "requests", "block", "find", "group_admin", "account"] as const;

export type Feature = (typeof FEATURES)[number] | "ws" | "consent";
