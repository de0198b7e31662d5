/**
 * Test preload: every test run gets private MariaDB and Redis instances on free
 * ports (in .data/test-<pid>), stopped and removed when the run ends. Set
 * CHAT_MYSQL_URL and CHAT_REDIS_URL to use running ones instead.
 */
import { afterAll } from "bun:test";
import { startServices, stopServices } from "../scripts/services.ts";

if (!process.env.CHAT_MYSQL_URL || !process.env.CHAT_REDIS_URL) {
  const dir = `${import.meta.dir}/../.data/test-${process.pid}`;
  const s = await startServices(dir, { relaxedDurability: true });
  process.env.CHAT_MYSQL_URL = s.mysqlUrl;
  process.env.CHAT_REDIS_URL = s.redisUrl;
  const stop = () => stopServices(dir, { removeData: true });
  afterAll(stop);
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
}
