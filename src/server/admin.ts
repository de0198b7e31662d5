/**
 * The admin HTTP endpoint: GET /healthz (200 when MySQL answers, 503 when it
 * does not or while the node is still starting; Redis down is "degraded" but
 * still 200, since local traffic goes on) and GET /metrics (Prometheus text).
 */
import type { Server } from "bun";
import type { Bus } from "../cluster/bus.ts";
import type { Db } from "../store/db.ts";
import { ping } from "../store/server-info.ts";
import type { Metrics } from "./metrics.ts";

export interface AdminDeps {
  node: string;
  db: Db;
  /** The bus's state now ("local" for a single node). */
  busState: () => Bus["state"];
  metrics: Metrics;
  /** Extra fields for /healthz (connections, sessions). */
  details?: () => Record<string, unknown>;
}

/** Whether MySQL answers a trivial query within `ms`. */
async function mysqlUp(db: Db, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      ping(db).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
  } catch {
    return false; // any failure of the probe is "down"; the reason is in the server's own logs
  } finally {
    clearTimeout(timer);
  }
}

export async function health(deps: AdminDeps) {
  const mysql = (await mysqlUp(deps.db, 1000)) ? "up" : "down";
  const state = deps.busState();
  const redis = state === "local" ? "none" : state;
  const details = deps.details?.() ?? {};
  // Still starting (migrations, joining the cluster): not yet a node to send clients to.
  const status = mysql === "down" ? "down" : details.starting ? "starting" : redis === "down" ? "degraded" : "ok";
  return { status, node: deps.node, mysql, redis, ...details };
}

export function startAdmin(host: string, port: number, deps: AdminDeps): Server<undefined> {
  return Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405 });
      if (path === "/healthz") {
        const h = await health(deps);
        return Response.json(h, { status: h.status === "down" || h.status === "starting" ? 503 : 200 });
      }
      if (path === "/metrics") return new Response(deps.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
      return new Response("not found: try /healthz or /metrics\n", { status: 404 });
    },
  });
}
