/**
 * `bun run test:faults`: the hardening tests (hostile input, storms, limits,
 * failing dependencies), with their figures gathered at the end, ready for the
 * README's "Reliability" section. Extra arguments go to `bun test`
 * (e.g. `-t MariaDB`). CHAT_FUZZ_LONG=1 runs ten times the fuzz cases.
 */
import { LineReader } from "./support/framing.ts";

const FILES = [
  "test/unit/frame-reader.test.ts",
  "test/unit/schema.test.ts",
  "test/e2e/fuzz.test.ts",
  "test/e2e/slow-consumer.test.ts",
  "test/e2e/storms.test.ts",
  "test/e2e/rate-limits.test.ts",
  "test/e2e/faults.test.ts",
  "test/e2e/redis-outage.test.ts",
  "test/e2e/lost-reply.test.ts",
];

/** The first words of every line a scenario prints with its figures. */
const FIGURE = /^(Fuzz|Slow consumer|Connection storm|Login storm|Interrupted logins|Rate limit|Idle timeout|MariaDB restart|MariaDB frozen|Redis restart|Redis outage|Node SIGKILL|Lost reply)/;

const root = `${import.meta.dir}/..`;
const proc = Bun.spawn([process.execPath, "test", "--timeout", "120000", ...FILES.map((f) => `./${f}`), ...process.argv.slice(2)], {
  cwd: root,
  stdout: "pipe",
  stderr: "inherit",
  env: process.env,
});

const figures: string[] = [];
const lines = new LineReader((line) => {
  if (FIGURE.test(line)) figures.push(line.trim());
});
for await (const chunk of proc.stdout) {
  process.stdout.write(chunk);
  lines.push(chunk);
}
const code = await proc.exited;

console.log(`\nReliability figures (${new Date().toISOString().slice(0, 10)}, ${figures.length} scenarios):`);
for (const f of figures) console.log(`- ${f}`);
process.exit(code);
