/**
 * deploy/grafana/chat-dashboard.json and deploy/prometheus/chat-alerts.yml
 * against the server's metrics, without a server: the dashboard is valid
 * JSON that Grafana can lay out, and every query names series that
 * src/server/metrics.ts exports. test/e2e/prometheus.test.ts checks the same
 * against a real server's page, and the PromQL with promtool.
 */
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { Metrics } from "../../src/server/metrics.ts";
import { dashboardExprs, exportedNames, metricNames } from "../support/promql.ts";

const DEPLOY = `${import.meta.dir}/../../deploy`;

type Panel = { id: number; type: string; title: string; datasource?: { uid: string }; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr?: string }[] };

async function exported(): Promise<Set<string>> {
  const m = new Metrics({ build: { version: "0", commit: "0" } });
  m.watch({ redisUp: () => true });
  return exportedNames(await m.render());
}

describe("PromQL names", () => {
  it("are the metrics an expression reads, not its functions, labels, keywords, numbers or variables", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (type, le) (rate(chat_request_duration_seconds_bucket{instance=~"$instance",type!="x y"}[$__rate_interval])))')).toEqual([
      "chat_request_duration_seconds_bucket",
    ]);
    expect(metricNames("a_total / on(instance) group_left(version) b_info > 1e3 and c offset 5m unless bool d")).toEqual(["a_total", "b_info", "c", "d"]);
    expect(metricNames("sum(rate(x_total[5m])) without (code)")).toEqual(["x_total"]);
  });
});

describe("the Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(`${DEPLOY}/grafana/chat-dashboard.json`, "utf8")) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query: unknown; definition?: string }[] } };

  it("lays out panels with unique ids inside Grafana's 24 columns, each querying the chosen data source", () => {
    expect(dashboard.uid).toBe("chat-overview");
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type === "row") continue;
      expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: "${datasource}" });
      expect({ panel: p.title, queries: (p.targets ?? []).filter((t) => t.expr).length > 0 }).toEqual({ panel: p.title, queries: true });
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(["datasource", "instance"]);
  });

  it("covers traffic, latency, group commit, the pool, connections, health, errors and order", () => {
    const names = new Set(dashboardExprs(dashboard).flatMap(({ expr }) => metricNames(expr)));
    for (const name of [
      "chat_messages_stored_total",
      "chat_frames_out_total",
      "chat_request_duration_seconds_bucket",
      "chat_push_latency_seconds_bucket",
      "chat_group_commit_duration_seconds_bucket",
      "chat_group_commit_size_sum",
      "chat_pool_in_use",
      "chat_pool_timeouts_total",
      "chat_connections",
      "chat_sessions",
      "chat_mysql_up",
      "chat_redis_up",
      "chat_errors_total",
      "chat_pushes_out_of_order_total",
    ])
      expect(names).toContain(name);
  });

  it("queries only series the server exports", async () => {
    const have = await exported();
    const missing = dashboardExprs(dashboard).flatMap(({ panel, expr }) => metricNames(expr).filter((n) => !have.has(n)).map((n) => `${panel}: ${n}`));
    expect(missing).toEqual([]);
    const instance = dashboard.templating.list.find((v) => v.name === "instance");
    expect(instance?.definition).toBe("label_values(chat_build_info, instance)");
    expect(have).toContain("chat_build_info");
  });
});

describe("the alert rules", () => {
  it("ask only for series the server exports, and for Prometheus' own up", async () => {
    const have = await exported();
    const alerts = Bun.YAML.parse(readFileSync(`${DEPLOY}/prometheus/chat-alerts.yml`, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(7);
    const unknown = rules.flatMap((r) => metricNames(r.expr).filter((n) => n !== "up" && !have.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(unknown).toEqual([]);
  });
});
