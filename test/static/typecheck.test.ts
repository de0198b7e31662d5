/**
 * The whole project type-checks under `strict` (tsconfig.json): Bun runs
 * TypeScript without checking it. Not in test/unit: tsc over the project takes
 * 10-20 s on a 2-core machine, most of what `npm run test:unit` may take;
 * `npm run check` type-checks on its own, and `npm test` runs this file.
 */
import { expect, it } from "bun:test";

it("type-checks with tsc", () => {
  const root = `${import.meta.dir}/../..`;
  const r = Bun.spawnSync([`${root}/node_modules/.bin/tsc`, "-p", root], { cwd: root });
  const out = r.stdout.toString() + r.stderr.toString();
  expect(out.trim()).toBe("");
  expect(r.exitCode).toBe(0);
}, 180_000);
