/**
 * The web client's files, bundled when this module is compiled (see
 * bundle-macro.ts): embedded in `dist/chat`, built afresh under `bun src/main.ts`.
 * site.ts loads this module only when the first page is asked for, so a node
 * that serves no page never bundles it.
 */
import { buildWebBundle } from "./bundle-macro.ts" with { type: "macro" };

export const ASSETS = buildWebBundle();
