/** Pools over fake drivers that a test file makes: each is closed after its test, its held connects failed first. */
import { afterEach } from "bun:test";
import type { FakeDriver } from "../../pool/fake-connection.ts";
import type { Pool } from "../../pool/index.ts";

export function closeAfterEach(): (pool: Pool, driver: FakeDriver) => void {
  const open: Array<{ pool: Pool; driver: FakeDriver }> = [];
  afterEach(async () => {
    for (const { pool, driver } of open.splice(0)) {
      while (driver.held > 0) driver.failConnect(new Error("test over"));
      await pool.close();
    }
  });
  return (pool, driver) => void open.push({ pool, driver });
}
