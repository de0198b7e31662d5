/**
 * The test run's MariaDB and Redis: private instances on free ports in
 * .data/test-<pid>, started the first time a test file asks for them and
 * stopped when the run ends (test/setup.ts). Set CHAT_MYSQL_URL and
 * CHAT_REDIS_URL to use running ones instead.
 *
 * Started on first use rather than by the preload for every run: the preload
 * cannot know which files bun will run (a folder, a file, a name filter), and
 * a run of unit tests must neither wait for MariaDB nor need it installed.
 * db.ts asks at import time, so a file needs them exactly when it imports the
 * database helpers (directly or through server.ts).
 */
import { startServices, stopServices } from "../../scripts/services.ts";

export interface TestServices {
  mysqlUrl: string;
  redisUrl: string;
}

const DIR = `${import.meta.dir}/../../.data/test-${process.pid}`;

let running: Promise<TestServices> | undefined;
/** Set once this process started instances of its own (not when the environment named them). */
let ours = false;

/** The run's services, started on the first call; the URLs are also put in the environment, for whatever reads them there. */
export function testServices(): Promise<TestServices> {
  running ??= start();
  return running;
}

async function start(): Promise<TestServices> {
  const env = process.env;
  if (env.CHAT_MYSQL_URL && env.CHAT_REDIS_URL) return { mysqlUrl: env.CHAT_MYSQL_URL, redisUrl: env.CHAT_REDIS_URL };
  ours = true;
  const s = await startServices(DIR, { relaxedDurability: true });
  env.CHAT_MYSQL_URL = s.mysqlUrl;
  env.CHAT_REDIS_URL = s.redisUrl;
  return { mysqlUrl: s.mysqlUrl, redisUrl: s.redisUrl };
}

/** Stops and deletes the instances this process started, if it started any. */
export async function stopTestServices(): Promise<void> {
  if (!running || !ours) return;
  // A start that failed may have left a half-made directory: stopServices cleans it up all the same.
  await running.catch(() => undefined);
  await stopServices(DIR, { removeData: true });
}
