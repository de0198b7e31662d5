/**
 * The admin HTTP endpoint: GET /healthz (200 when MySQL answers, 503 when it
 * does not or while the node is still starting; Redis down is "degraded" but
 * still 200, since local traffic goes on) and GET /metrics (Prometheus text).
 */
import type { Server } from "bun";
import type { Bus } from "../cluster/bus.ts";
import type { Db } from "../store/db.ts";
import { answersWithin } from "../store/server-info.ts";
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

export async function health(deps: AdminDeps) {
  const mysql = (await answersWithin(deps.db, 1000)) ? "up" : "down";
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
      if (path === "/metrics") return new Response(await deps.metrics.render(), { headers: { "content-type": deps.metrics.contentType } });
      return new Response("not found: try /healthz or /metrics\n", { status: 404 });
    },
  });
}
