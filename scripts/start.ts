/**
 * `npm start`: a chat server with everything it needs on this machine.
 * Starts (or reuses) private MariaDB and Redis in .data/dev, then runs
 * `chat server` against them. Extra arguments go to `chat server`
 * (`npm start -- --port 7000`). The databases keep running after the server
 * stops, so the next start is instant; `npm run services:stop` stops them.
 */
import { resolve } from "node:path";
import { main } from "../src/main.ts";
import { startServices } from "./services.ts";

const dir = resolve(import.meta.dir, "../.data/dev");
const env = process.env;
if (!env.CHAT_MYSQL_URL || !env.CHAT_REDIS_URL) {
  process.stderr.write(`chat: starting MariaDB and Redis in ${dir} ...\n`);
  const s = await startServices(dir, { detached: true });
  env.CHAT_MYSQL_URL ??= s.mysqlUrl;
  env.CHAT_REDIS_URL ??= s.redisUrl;
  process.stderr.write(
    `chat: MariaDB ${s.mysqlUrl.replace(/:[^:@/]*@/, ":***@")} and Redis ${s.redisUrl} are running; ` +
      "they stay up after the server stops (stop them with: npm run services:stop)\n",
  );
}
await main(["server", ...process.argv.slice(2)]);
