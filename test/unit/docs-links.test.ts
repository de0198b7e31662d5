/**
 * The repository explains itself without leaving it: every link in its
 * Markdown files points at a file of the repository that exists (and a
 * `#fragment` into a Markdown file at one of its headings); no link leaves it,
 * neither as a URL nor as a path that climbs above the root. Code blocks and
 * code spans are text, not links.
 */
import { describe, expect, it } from "bun:test";
import { Glob } from "bun";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
/** The documents a newcomer reads: they must exist. */
const REQUIRED = ["README.md", "docs/PROTOCOL.md", "bench/README.md", "test/README.md", "deploy/README.md", "pool/README.md"];
/** Not in a fresh clone: installed, generated or ignored. A link into them breaks there. */
const NOT_IN_A_CLONE = /^(node_modules|\.data|dist|bench\/results)(\/|$)/;

interface Files {
  exists(path: string): boolean;
  read(path: string): string | undefined;
}

const disk: Files = {
  exists: (path) => existsSync(join(ROOT, path)),
  read: (path) => (existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), "utf8") : undefined),
};

/** A fenced code block: its opening fence, its lines, and its closing fence (or the end of the file). */
const FENCED = /^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^ {0,3}\1[`~]*[ \t]*$|(?![\s\S]))/gm;
/** A code span: a run of backticks, then anything up to a run of as many. */
const CODE_SPAN = /(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g;

/** Blanks out text, keeping line breaks so that line numbers stay right. */
const blank = (s: string) => s.replace(/[^\n]/g, " ");

/** The text without its fenced code blocks and code spans. */
function withoutCode(md: string): string {
  return md.replace(FENCED, blank).replace(CODE_SPAN, blank);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1");
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings, duplicates numbered as GitHub numbers them. */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  // Headings inside code blocks are no headings; code spans in a heading keep their text.
  for (const m of md.replace(FENCED, blank).matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$/gm)) {
    const base = slug(m[1] as string);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link target in a Markdown text, with its line: inline links and images, reference definitions, autolinks, bare URLs. */
function links(md: string): { target: string; line: number }[] {
  const text = withoutCode(md);
  const found = new Map<number, string>();
  // Group 1 of each pattern is the target; a target found by an earlier pattern is not found again.
  const patterns = [
    /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^\s)>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/dg, // [text](target "title"), ![alt](src)
    /^ {0,3}\[[^\]]+\]:[ \t]*<?([^\s>]+)>?/dgm, // [ref]: target
    /<([a-z][a-z0-9+.-]*:[^\s>]*)>/dgi, // <scheme:...>
    /((?:https?:\/\/|www\.)[^\s)<>\]]+)/dgi, // a bare URL, which GitHub links too
  ];
  for (const pattern of patterns)
    for (const m of text.matchAll(pattern)) {
      const at = m.indices?.[1]?.[0] ?? m.index ?? 0;
      if (!found.has(at)) found.set(at, m[1] as string);
    }
  return [...found]
    .sort(([a], [b]) => a - b)
    .map(([at, target]) => ({ target, line: text.slice(0, at).split("\n").length }));
}

/** What is wrong with the links of `file` (a path relative to the root), one line each. */
function problems(file: string, md: string, files: Files = disk): string[] {
  const out: string[] = [];
  for (const { target, line } of links(md)) {
    const where = `${file}:${line}: ${target}`;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//") || /^www\./i.test(target)) {
      out.push(`${where} leaves the repository`);
      continue;
    }
    if (target.startsWith("/")) {
      out.push(`${where} is an absolute path; write it relative to ${file}`);
      continue;
    }
    const hash = target.indexOf("#");
    const pathPart = hash === -1 ? target : target.slice(0, hash);
    const fragment = hash === -1 ? undefined : target.slice(hash + 1);
    let path: string;
    try {
      path = pathPart === "" ? file : normalize(join(dirname(file), decodeURIComponent(pathPart)));
    } catch {
      out.push(`${where} is not a valid path`);
      continue;
    }
    path = path.replace(/\/$/, "");
    if (path === ".." || path.startsWith("../") || isAbsolute(path)) {
      out.push(`${where} leaves the repository`);
      continue;
    }
    if (NOT_IN_A_CLONE.test(path)) {
      out.push(`${where} points into ${path.split("/")[0]}/, which a fresh clone does not have`);
      continue;
    }
    if (!files.exists(path)) {
      out.push(`${where} points at ${path}, which does not exist`);
      continue;
    }
    if (fragment && path.endsWith(".md")) {
      const text = path === file ? md : files.read(path);
      if (text !== undefined && !anchors(text).has(decodeURIComponent(fragment).toLowerCase()))
        out.push(`${where} names no heading of ${path}`);
    }
  }
  return out;
}

function markdownFiles(): string[] {
  return [...new Glob("**/*.md").scanSync({ cwd: ROOT })]
    .map((f) => relative(ROOT, resolve(ROOT, f)).split("\\").join("/"))
    .filter((f) => !NOT_IN_A_CLONE.test(f))
    .sort();
}

/** A few files in memory, for the checker's own tests. */
function memory(tree: Record<string, string>): Files {
  const dirs = new Set(Object.keys(tree).flatMap((f) => f.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"))));
  return { exists: (p) => p in tree || dirs.has(p), read: (p) => tree[p] };
}

describe("the link checker", () => {
  const tree = memory({
    "README.md": "# chat\n",
    "docs/PROTOCOL.md": "# The protocol\n\n## 1. Connecting\n\n### Account (`account`)\n\n## Errors\n\n## Errors\n",
    "src/main.ts": "",
  });

  it("accepts links to files and folders that exist, and to their headings", () => {
    const md = "[p](docs/PROTOCOL.md) [c](docs/PROTOCOL.md#1-connecting) [a](docs/PROTOCOL.md#account-account) [dup](docs/PROTOCOL.md#errors-1) [src](src/) [m](./src/main.ts \"title\")\n";
    expect(problems("README.md", md, tree)).toEqual([]);
  });

  it("reports a relative link to a file that does not exist, with its line", () => {
    expect(problems("README.md", "intro\n\nsee [gone](docs/GONE.md)\n", tree)).toEqual(["README.md:3: docs/GONE.md points at docs/GONE.md, which does not exist"]);
  });

  it("reports every way of leaving the repository", () => {
    expect(problems("README.md", "[shared](../shared/PROTOCOL.md)\n", tree)).toEqual(["README.md:1: ../shared/PROTOCOL.md leaves the repository"]);
    const md = [
      "[up](../../shared/PROTOCOL.md)",
      "[web](https://example.com/x)",
      "[mail](mailto:someone@example.com)",
      "<https://example.com>",
      "a bare https://example.com/page here",
      "[abs](/etc/passwd)",
      "[ref]: http://example.com",
    ].join("\n");
    const found = problems("docs/PROTOCOL.md", md, tree);
    expect(found).toHaveLength(7);
    expect(found[0]).toBe("docs/PROTOCOL.md:1: ../../shared/PROTOCOL.md leaves the repository");
    expect(found.filter((p) => p.endsWith("leaves the repository"))).toHaveLength(6);
    expect(found.find((p) => p.includes("/etc/passwd"))).toContain("absolute path");
  });

  it("reports a fragment that names no heading, in another file or in its own", () => {
    const md = "# Intro\n\n[x](docs/PROTOCOL.md#2-framing) [y](#nowhere) [z](#intro)\n";
    expect(problems("README.md", md, tree)).toEqual([
      "README.md:3: docs/PROTOCOL.md#2-framing names no heading of docs/PROTOCOL.md",
      "README.md:3: #nowhere names no heading of README.md",
    ]);
  });

  it("reports a link into what a fresh clone does not have", () => {
    expect(problems("README.md", "[r](bench/results/load-latest.json) [n](node_modules/bun)\n", memory({ "bench/results/load-latest.json": "{}" }))).toHaveLength(2);
  });

  it("ignores what only looks like a link inside code blocks and code spans", () => {
    const md = "```\n[a](missing.md) https://example.com\n```\n\n~~~sh\n[b](../up.md)\n~~~\n\n`[c](missing.md)` and ``[d](http://x) ` ``\n";
    expect(problems("README.md", md, tree)).toEqual([]);
  });
});

describe("the repository's Markdown files", () => {
  it("include the README and the documents it points newcomers to", () => {
    const files = markdownFiles();
    for (const f of REQUIRED) expect(files).toContain(f);
  });

  it("link only to files and headings inside the repository that exist", () => {
    const found = markdownFiles().flatMap((f) => problems(f, readFileSync(join(ROOT, f), "utf8")));
    expect(found).toEqual([]);
  });

  it("have the README link the protocol document", () => {
    const targets = links(readFileSync(join(ROOT, "README.md"), "utf8")).map((l) => l.target.split("#")[0]);
    expect(targets).toContain("docs/PROTOCOL.md");
  });
});
