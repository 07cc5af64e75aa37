/**
 * deploy/grafana/dataflow-operator.json reads only what the operator exports: the operator runs
 * as a process (DATAFLOW_OPERATOR_CMD: `deno run -A mod.ts`, on Bun, or the Bun binary) under
 * deploy/rbac.yaml against a real kube-apiserver, reconciles a DataFlow (ConfigMap, Deployment,
 * Events written) and refuses one (phase Error: a missing Secret), and every metric, label and
 * literal label value of every query of the dashboard — panels and variables — must then be in
 * its `/metrics` (histograms by their `_bucket` series, `le` included). Only `job` and `instance`,
 * which Prometheus adds when it scrapes, are not in the exposition.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { DASHBOARD_PATH } from "../../lib/dataflow/gen-crd.ts";
import { checkDashboard, type Dashboard } from "../tools/grafana-dashboard.ts";
import { dataflow, secret } from "./fixtures.ts";
import { parsePrometheus, type Sample, sumOf } from "./observe.ts";
import { OperatorSuite } from "./operator-suite.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 600_000 };
const suite = new OperatorSuite();
const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as Dashboard;
let scrape: Sample[] = [];

describe("the Grafana dashboard against a running operator's /metrics", T, () => {
  before(async () => {
    await suite.setUp("replica-a");
    const value = suite.secrets.add("dash-db");
    await suite.apply(secret("dash-db", { url: `postgres://dash:${value}@db/dash` }));
    await suite.apply(dataflow("dash-ok", { connectionStringSecretRef: { name: "dash-db", key: "url" } }));
    await suite.apply(
      dataflow("dash-missing", { connectionStringSecretRef: { name: "absent", key: "url" } }),
    );
    await suite.phaseIs("dash-ok", "Pending");
    await suite.phaseIs("dash-missing", "Error");
    await suite.eventsWith("dash-ok", "ConfigMapCreated", "DeploymentCreated");
    await suite.eventsWith("dash-missing", "SecretResolutionFailed");
    // The recorder counts a write once the API answered; the status and the Events are there already.
    const op = suite.leader();
    scrape = await waitFor("Event writes and reconciles in /metrics", async () => {
      const samples = parsePrometheus(await op.metrics());
      const written = sumOf(samples, "events_written_total");
      const reconciled = sumOf(samples, "controller_runtime_reconcile_time_seconds_count");
      return written >= 3 && reconciled >= 2 ? samples : undefined;
    });
  }, T);

  after(() => suite.tearDown(), T);

  it("every metric, label and label value the dashboard's queries use is exported", T, () => {
    const report = checkDashboard(dashboard, scrape);
    assert.deepEqual(report.problems, []);
    // It looked at every query: the panels' and the variables'.
    assert.ok(report.selectors.length >= 40, String(report.selectors.length));
    assert.ok(report.selectors.some((s) => s.where === "variable instance"));
  });

  it("the check fails on this scrape when a metric or label of the dashboard is misspelled", T, () => {
    const misspell = (from: RegExp, to: string) => {
      const text = JSON.stringify(dashboard).replace(from, to);
      assert.notEqual(text, JSON.stringify(dashboard), `${from} is not in the dashboard`);
      return checkDashboard(JSON.parse(text), scrape).problems;
    };
    assert.match(
      misspell(/events_coalesced_total/, "events_coalesce_total").join("\n"),
      /events_coalesce_total is not exported/,
    );
    assert.match(
      misspell(/sum by \(phase\)/, "sum by (phases)").join("\n"),
      /dataflow_status has no label phases/,
    );
    assert.match(
      misspell(/sum by \(le, controller\)/, "sum by (le, controler)").join("\n"),
      /has no label controler/,
    );
    assert.match(
      misspell(/reason=\\"event-for-event\\"}/, 'reason=\\"event-for-events\\"}').join("\n"),
      /no series/,
    );
  });

  it("the process metrics are the operator process's own", T, () => {
    const value = (name: string) => scrape.find((s) => s.name === name)?.value;
    assert.ok(value("process_resident_memory_bytes")! > 2 ** 20);
    assert.ok(value("process_cpu_seconds_total")! > 0);
    assert.ok(value("nodejs_heap_size_used_bytes")! > 0);
    const started = value("process_start_time_seconds")!;
    assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 3600, String(started));
    if (process.platform === "linux") {
      assert.ok(value("process_open_fds")! > 3);
      assert.ok(value("process_max_fds")! >= value("process_open_fds")!);
      assert.ok(value("process_virtual_memory_bytes")! >= value("process_resident_memory_bytes")!);
    }
  });

  it("nothing was forbidden and no secret value left its Secret", T, async () => {
    await suite.assertNoSecretLeak(["dash-db"]);
  });
});
