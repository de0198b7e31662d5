#!/usr/bin/env bun
/**
 * The HA lab: two "VMs" (chat node + nginx + keepalived each), MariaDB and
 * Redis, and clients, in network namespaces of its own; checks failover and
 * prints the figures. As root:
 *
 *   bun deploy/lab/lab.ts
 *
 * Exit status: 0 every check passed, 1 a check failed, 2 it could not run.
 * Environment:
 *   CHAT_LAB_NET=a.b.c        the private /24 to use (default 10.200.77)
 *   CHAT_LAB_KEEP=1           keep .data/lab-<pid>/ (logs, configs) afterwards
 *   CHAT_LAB_TIMEOUT_MS=N     overall limit (default 240000)
 */
import { drive } from "./driver.ts";
import { supervise } from "./supervisor.ts";

const code = process.argv[2] === "--driver" ? await drive(process.argv[3]!) : await supervise();
process.exit(code);
