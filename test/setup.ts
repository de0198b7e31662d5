/**
 * Test preload: starts nothing. The integration and e2e files start the run's
 * private MariaDB and Redis when they first need them (test/support/services.ts);
 * this stops them when the whole run ends, and on Ctrl-C.
 */
import { afterAll } from "bun:test";
import { stopTestServices } from "./support/services.ts";

afterAll(stopTestServices);
process.once("SIGINT", () => void stopTestServices().then(() => process.exit(130)));
