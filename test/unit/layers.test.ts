/**
 * The architecture holds in the code: data flows one way through src/, so no
 * module imports from a layer above its own, and no import cycle exists.
 *
 *   4  src/main.ts                      the `chat` command
 *   3  src/cli/                         command-line options
 *      src/web/                         the web client (browser code over src/client) and its site handler
 *   2  src/server/, src/client/         the server; the client library and console
 *   1  src/store/, src/cluster/         all SQL; the bus and presence
 *   0  src/protocol/, src/log.ts, ...   what everything shares
 *
 * Within a layer above 0, folders do not import each other (the server never
 * imports the client, the store never the cluster). Within src/server/, only
 * dispatch.ts knows the handlers, and nothing imports server.ts or run.ts but
 * the layers above.
 */
import { describe, expect, it } from "bun:test";
import { Glob } from "bun";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(`${import.meta.dir}/../..`);

const LAYERS: [prefix: string, layer: number][] = [
  ["src/main.ts", 4],
  ["src/cli/", 3],
  ["src/web/", 3],
  ["src/server/", 2],
  ["src/client/", 2],
  ["src/store/", 1],
  ["src/cluster/", 1],
  ["src/protocol/", 0],
  ["src/log.ts", 0],
  ["src/version.ts", 0],
  // Outside src/: the pool and the migrations sit beside the store.
  ["pool/", 0],
  ["sql/", 0],
  ["package.json", 0],
];

function layerOf(file: string): { layer: number; folder: string } {
  for (const [prefix, layer] of LAYERS) if (file.startsWith(prefix)) return { layer, folder: prefix };
  throw new Error(`${file} has no layer: add it to LAYERS in this test`);
}

/** Every relative import of every module under src/ (static, dynamic and type-only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of new Glob("src/**/*.ts").scanSync(ROOT)) {
    const text = require("node:fs").readFileSync(join(ROOT, file), "utf8") as string;
    const targets: string[] = [];
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g))
      targets.push(relative(ROOT, resolve(ROOT, dirname(file), m[1] as string)));
    graph.set(file, targets);
  }
  return graph;
}

describe("the source tree", () => {
  const graph = importGraph();

  it("has every module in a layer", () => {
    for (const file of graph.keys()) expect(() => layerOf(file)).not.toThrow();
  });

  it("never imports from a layer above, nor from a sibling folder of the same layer", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const t of targets) {
        const to = layerOf(t);
        if (to.layer > from.layer || (to.layer === from.layer && to.layer > 0 && to.folder !== from.folder)) wrong.push(`${file} -> ${t}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("lets only dispatch.ts know the handler table, and only the command start a server", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph)
      for (const t of targets) {
        if (t.startsWith("src/server/handlers/") && !file.startsWith("src/server/handlers/") && file !== "src/server/dispatch.ts") wrong.push(`${file} -> ${t}`);
        if ((t === "src/server/server.ts" || t === "src/server/run.ts") && file.startsWith("src/server/") && file !== "src/server/run.ts") wrong.push(`${file} -> ${t}`);
      }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (file: string) => {
      state.set(file, "open");
      path.push(file);
      for (const t of graph.get(file) ?? []) {
        if (state.get(t) === "open") cycles.push([...path.slice(path.indexOf(t)), t].join(" -> "));
        else if (!state.has(t) && graph.has(t)) visit(t);
      }
      path.pop();
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
