/**
 * deploy/grafana/dataflow-operator.json as Grafana and its sidecar need it: one Prometheus data
 * source variable used by every panel and query, readable PromQL everywhere, every required
 * panel, and the Helm chart's copy current. (That every metric and label it reads is really
 * exported is tests/e2e/grafana-dashboard.test.ts, against a running operator.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CHART_DASHBOARD_PATH, DASHBOARD_PATH } from "../../../lib/dataflow/gen-crd.ts";
import { type Dashboard, dashboardQueries } from "../../tools/grafana-dashboard.ts";
import { selectors } from "../../tools/promql.ts";

const text = readFileSync(DASHBOARD_PATH, "utf8");

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(text) as Dashboard & {
  uid: string;
  title: string;
  schemaVersion: number;
  id: unknown;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: unknown }> };
};
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

describe("the Grafana dashboard", () => {
  it("is an importable dashboard: schema 39+, a fixed uid, no instance id", () => {
    assert.ok(dashboard.schemaVersion >= 39, String(dashboard.schemaVersion));
    assert.equal(dashboard.uid, "dataflow-operator");
    assert.equal(dashboard.title, "DataFlow operator");
    assert.equal(dashboard.id, null);
    const ids = allPanels(dashboard.panels).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids repeat");
  });

  it("every panel and query uses the ${datasource} variable, a Prometheus data source", () => {
    const ds = dashboard.templating.list.find((v) => v.name === "datasource");
    assert.equal(ds?.type, "datasource");
    assert.equal(ds?.query, "prometheus");
    for (const p of allPanels(dashboard.panels).filter((p) => p.type !== "row")) {
      assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title);
      assert.ok(p.targets?.length, `${p.title} has no query`);
      for (const t of p.targets!) {
        assert.deepEqual(t.datasource, { type: "prometheus", uid: "${datasource}" });
      }
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === "query")) {
      assert.deepEqual(v.datasource, { type: "prometheus", uid: "${datasource}" }, v.name);
    }
    assert.doesNotMatch(text, /DS_PROMETHEUS|"uid": "[a-zA-Z0-9]{9,}"/, "a data source of someone's Grafana");
  });

  it("panels do not overlap on the 24-column grid", () => {
    const cells = new Map<string, string>();
    for (const p of allPanels(dashboard.panels)) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} is wider than the grid`);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const other = cells.get(`${x},${y}`);
          assert.equal(other, undefined, `${p.title} overlaps ${other}`);
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });

  it("every query is readable PromQL filtered by $job and $instance", () => {
    const queries = dashboardQueries(dashboard);
    assert.ok(queries.length > 30, String(queries.length));
    for (const q of queries.filter((q) => q.where.startsWith("panel"))) {
      for (const s of selectors(q.expr!)) {
        assert.deepEqual(
          s.matchers.filter((m) => m.label === "job" || m.label === "instance").map((m) =>
            `${m.label}${m.op}${m.value}`
          ),
          ["job=~$job", "instance=~$instance"],
          `${q.where}: ${q.expr}`,
        );
      }
    }
  });

  it("has the panels of issue 14: phases, reconciles, queue, events, leader, API, process", () => {
    const read = new Set(dashboardQueries(dashboard).flatMap((q) => selectors(q.expr!).map((s) => s.metric)));
    for (
      const metric of [
        "dataflow_status",
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_depth",
        "workqueue_queue_duration_seconds_bucket",
        "events_written_total",
        "events_coalesced_total",
        "events_dropped_total",
        "leader_election_master_status",
        "rest_client_requests_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
      ]
    ) assert.ok(read.has(metric), `no panel reads ${metric}`);
  });

  it("the Helm chart's copy is current (lib/dataflow/gen-crd.ts writes it)", () => {
    assert.ok(
      readFileSync(CHART_DASHBOARD_PATH, "utf8") === text,
      "deploy/helm/dataflow-operator/files/grafana-dashboard.json is stale: run `deno run -A lib/dataflow/gen-crd.ts`",
    );
  });
});
