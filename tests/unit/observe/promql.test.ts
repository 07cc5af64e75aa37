/**
 * The PromQL selector reader and the dashboard check built on it (tests/tools/promql.ts,
 * tests/tools/grafana-dashboard.ts): what each expression reads, and that a misspelled metric,
 * label, label value or function fails the check.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkSelectors, PromQLError, selectors, type Series } from "../../tools/promql.ts";
import { checkDashboard, type Dashboard, dashboardQueries } from "../../tools/grafana-dashboard.ts";

const brief = (expr: string) => selectors(expr).map((s) => `${s.metric}[${s.labels.join(",")}]`);

describe("PromQL selectors", () => {
  it("a bare metric, matchers, and __name__", () => {
    assert.deepEqual(selectors("up"), [{ metric: "up", matchers: [], labels: [] }]);
    assert.deepEqual(selectors('x{a="1", b!="2", c=~"3|4", d!~"5",}'), [{
      metric: "x",
      matchers: [
        { label: "a", op: "=", value: "1" },
        { label: "b", op: "!=", value: "2" },
        { label: "c", op: "=~", value: "3|4" },
        { label: "d", op: "!~", value: "5" },
      ],
      labels: ["a", "b", "c", "d"],
    }]);
    assert.deepEqual(brief('{__name__="x", job="j"}'), ["x[job]"]);
    assert.deepEqual(selectors(`x{a='it\\'s', b=\`raw\\n\`}`)[0].matchers.map((m) => m.value), [
      "it's",
      "raw\\n",
    ]);
    assert.deepEqual(brief("namespace:x_total:rate5m"), ["namespace:x_total:rate5m[]"]);
  });

  it("grouping labels of aggregations reach the selectors inside, before or after the arguments", () => {
    assert.deepEqual(brief("sum by (phase) (dataflow_status)"), ["dataflow_status[phase]"]);
    assert.deepEqual(brief("sum(rate(a_total[5m])) without (pod, code)"), ["a_total[code,pod]"]);
    assert.deepEqual(brief("topk(5, max by (name) (b))"), ["b[name]"]);
    assert.deepEqual(
      brief('count by (phase) (max by (namespace, name, phase) (dataflow_status{job=~"$job"} == 1))'),
      ["dataflow_status[job,name,namespace,phase]"],
    );
    assert.deepEqual(brief("sum by (a) (x) / sum by (b) (y)"), ["x[a]", "y[b]"]);
  });

  it("histogram_quantile needs le; Grafana variables stand in ranges, strings and numbers", () => {
    assert.deepEqual(
      brief(
        'histogram_quantile(0.99, sum by (le, controller) (rate(t_bucket{job=~"$job", instance=~"${instance:regex}"}[$__rate_interval])))',
      ),
      ["t_bucket[controller,instance,job,le]"],
    );
    assert.deepEqual(brief("histogram_quantile(0.5, rate(t_bucket[5m]))"), ["t_bucket[le]"]);
    assert.deepEqual(brief("topk($n, x) offset 1h"), ["x[]"]);
    assert.deepEqual(brief("rate(x[5m:1m] @ start()) > bool 0.5e-3"), ["x[]"]);
  });

  it("binary operations: on/ignoring on both sides, group_left/right on the one side", () => {
    assert.deepEqual(brief("a * on (pod) group_left (node) b"), ["a[pod]", "b[node,pod]"]);
    assert.deepEqual(brief("a / ignoring (code) group_right (x) b"), ["a[code,x]", "b[code]"]);
    assert.deepEqual(brief("a and b or c unless d"), ["a[]", "b[]", "c[]", "d[]"]);
    assert.deepEqual(brief("(a + b) * 2"), ["a[]", "b[]"]);
  });

  it("source labels of label_replace, label_join and sort_by_label", () => {
    assert.deepEqual(brief('label_replace(x, "dst", "$1", "src", "(.*)")'), ["x[src]"]);
    assert.deepEqual(brief('label_join(x, "dst", "-", "a", "b")'), ["x[a,b]"]);
    assert.deepEqual(brief('sort_by_label(x, "name")'), ["x[name]"]);
  });

  it("refuses what it cannot read", () => {
    for (
      const bad of [
        "rat(x[5m])", // misspelled function
        "sum by (a) x", // aggregation without parentheses around its argument
        "x{a=1}", // a matcher value must be a string
        'x{a="1"',
        "(x",
        "x)",
        "by (a) x",
        '{job="a"}', // no metric name
        "1 + 2", // reads no series
        'x{a="unterminated}',
      ]
    ) {
      assert.throws(() => selectors(bad), PromQLError, bad);
    }
  });
});

const scrape: Series[] = [
  { name: "dataflow_status", labels: { namespace: "a", name: "f", phase: "Error" } },
  { name: "dataflow_status", labels: { namespace: "a", name: "g", phase: "Running" } },
  { name: "t_bucket", labels: { controller: "dataflow", le: "0.1" } },
  { name: "t_bucket", labels: { controller: "dataflow", le: "+Inf" } },
  { name: "t_count", labels: { controller: "dataflow" } },
];

describe("the check against a scrape", () => {
  it("passes when every metric, label and literal value exists (job and instance are the target's)", () => {
    assert.deepEqual(
      checkSelectors(
        'sum by (phase) (dataflow_status{job=~"$job", phase=~"Error|Running", namespace=~"$ns"}) ' +
          '+ histogram_quantile(0.9, sum by (le) (rate(t_bucket{controller="dataflow"}[5m]))) + t_count',
        scrape,
      ),
      [],
    );
  });

  it("fails on a misspelled metric, label, label value, or histogram suffix", () => {
    assert.deepEqual(checkSelectors("dataflow_statuses", scrape), [
      "metric dataflow_statuses is not exported",
    ]);
    assert.deepEqual(checkSelectors("sum by (phases) (dataflow_status)", scrape), [
      "dataflow_status has no label phases (its labels: name, namespace, phase)",
    ]);
    assert.deepEqual(checkSelectors('dataflow_status{phase="Eror"}', scrape), [
      'no series dataflow_status{phase="Eror"} (values: Error, Running)',
    ]);
    assert.deepEqual(checkSelectors('dataflow_status{phase=~"Err"}', scrape), [
      'no series dataflow_status{phase=~"Err"} (values: Error, Running)',
    ]);
    assert.deepEqual(checkSelectors("histogram_quantile(0.9, rate(t[5m]))", scrape), [
      "metric t is not exported",
    ]);
    assert.deepEqual(checkSelectors("histogram_quantile(0.9, rate(t_count[5m]))", scrape), [
      "t_count has no label le (its labels: controller)",
    ]);
    assert.deepEqual(checkSelectors('t_count{pod="x"}', scrape, { targetLabels: ["job"] }), [
      "t_count has no label pod (its labels: controller)",
    ]);
    assert.deepEqual(checkSelectors('t_count{pod="x"}', scrape, { targetLabels: ["pod"] }), []);
  });
});

describe("the queries of a Grafana dashboard", () => {
  const dashboard: Dashboard = {
    panels: [
      {
        title: "Phases",
        targets: [{ refId: "A", expr: "sum by (phase) (dataflow_status)", legendFormat: "{{phase}}" }],
      },
      {
        title: "a row",
        type: "row",
        panels: [{
          title: "Latency",
          targets: [{ refId: "B", expr: "histogram_quantile(0.5, rate(t_bucket[5m]))" }],
        }],
      },
    ],
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus" },
        { name: "job", type: "query", query: { query: "label_values(t_count, job)" } },
        { name: "controller", type: "query", query: 'label_values(t_count{job=~"$job"}, controller)' },
      ],
    },
  };

  it("finds the targets of panels in rows and the query variables", () => {
    assert.deepEqual(dashboardQueries(dashboard).map((q) => [q.where, q.expr, q.labels, q.legend]), [
      ['panel "Phases" target A', "sum by (phase) (dataflow_status)", [], ["phase"]],
      ['panel "Latency" target B', "histogram_quantile(0.5, rate(t_bucket[5m]))", [], []],
      ["variable job", "t_count", ["job"], []],
      ["variable controller", 't_count{job=~"$job"}', ["controller"], []],
    ]);
    const report = checkDashboard(dashboard, scrape);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.selectors.map((s) => `${s.metric}[${s.labels.join(",")}]`), [
      "dataflow_status[phase]",
      "t_bucket[le]",
      "t_count[job]",
      "t_count[controller,job]",
    ]);
  });

  it("reports a misspelled metric or label anywhere, a wrong legend label, an unreadable query", () => {
    const broken = structuredClone(dashboard);
    broken.panels![0].targets![0].legendFormat = "{{phse}}";
    broken.panels![1].panels![0].targets![0].expr = "histogram_quantile(0.5, rate(t_buckets[5m]))";
    broken.templating!.list![2].query = "label_values(t_count, controler)";
    broken.panels!.push({ title: "Bad", targets: [{ refId: "C", expr: "rat(t_count[5m])" }] });
    assert.deepEqual(checkDashboard(broken, scrape).problems, [
      'panel "Phases" target A: legend label phse is on none of the series it reads',
      'panel "Latency" target B: metric t_buckets is not exported',
      'panel "Bad" target C: unknown function rat at offset 0 of: rat(t_count[5m])',
      "variable controller: t_count has no label controler (its labels: controller)",
    ]);
  });
});
