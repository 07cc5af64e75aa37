/**
 * The console's pure parts: escaping, the list's filters and rows, the live hub, the Prometheus
 * reader, where a field's message goes in the YAML, the API server's refusals as field errors,
 * sessions and CSRF, and the command line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { escapeHtml, Html, html } from "../../../lib/console/html.ts";
import { matches, renderRow } from "../../../lib/console/list-page.ts";
import { LiveHub, type LiveMessage } from "../../../lib/console/live.ts";
import { parsePrometheusText } from "../../../lib/console/prometheus.ts";
import { condense } from "../../../lib/console/operator-status.ts";
import { fieldLine, splitFieldPath } from "../../../lib/console/yaml-fields.ts";
import { errorsOf, parseDataFlowText } from "../../../lib/console/writes.ts";
import { sameOrigin, Sessions } from "../../../lib/console/sessions.ts";
import { parseConsoleArgs } from "../../../lib/console/flags.ts";
import { chooseWriteMode } from "../../../lib/console/identity.ts";
import { main } from "../../../lib/cli/main.ts";
import { renderStatus } from "../../../lib/console/detail-page.ts";
import { BadRequestError, errorFromResponse, InvalidError } from "../../../lib/kube/errors.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";

const HOSTILE = `<img src=x onerror="alert(1)">'"&\`</textarea><script>x()</script>`;

function df(name: string, namespace: string, phase?: string, message?: string): DataFlow {
  return {
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: {
      name,
      namespace,
      resourceVersion: String(Math.random()),
      creationTimestamp: new Date().toISOString(),
    },
    spec: { source: { type: "kafka" }, sink: { type: "postgresql" } } as DataFlow["spec"],
    status: phase ? { phase, message } as DataFlow["status"] : undefined,
  };
}

describe("escaping", () => {
  it("escapes every character that could start markup or end an attribute", () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>&\`</a>`),
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;",
    );
    assert.equal(escapeHtml("a\u0000b\ud800c"), "a\ufffdb\ufffdc");
    assert.equal(escapeHtml(undefined), "");
  });

  it("the html template escapes values and passes fragments through", () => {
    const inner = html`<b>${HOSTILE}</b>`;
    const out = html`<p title="${HOSTILE}">${inner}${[HOSTILE, html`<i>ok</i>`]}${false}${null}</p>`.value;
    assert.ok(!out.includes("<img") && !out.includes("<script") && !out.includes("</textarea>"), out);
    assert.ok(out.startsWith('<p title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
    assert.ok(out.includes("<b>&lt;img") && out.includes("<i>ok</i>"));
    assert.ok(inner instanceof Html);
  });

  it("a row and a status section show hostile text only as text", () => {
    const d = df("a", "ns", "Error", HOSTILE);
    d.metadata.annotations = { note: HOSTILE };
    for (const markup of [renderRow(d).value, renderStatus(d).value]) {
      assert.ok(!/<img|<script|<\/textarea/i.test(markup), markup);
      assert.ok(markup.includes(escapeHtml(HOSTILE)));
    }
  });
});

describe("the list", () => {
  it("filters by namespace and phase (Unknown: no phase)", () => {
    assert.ok(matches(df("a", "x", "Running"), { namespace: "x", phase: "Running" }));
    assert.ok(!matches(df("a", "x", "Running"), { namespace: "y" }));
    assert.ok(!matches(df("a", "x", "Running"), { phase: "Error" }));
    assert.ok(matches(df("a", "x"), { phase: "Unknown" }));
    assert.ok(matches(df("a", "x", "Weird"), { phase: "Unknown" }));
  });

  it("the live hub sends a snapshot, then upserts and removes rows as they enter and leave a filter", () => {
    const store = new Map<string, DataFlow>();
    const a = df("a", "x", "Running");
    store.set("x/a", a);
    const hub = new LiveHub(
      { list: () => [...store.values()], get: (k) => store.get(k) },
      (d) => html`<section id="status">${d.status?.phase}</section>`,
    );
    const got: LiveMessage[] = [];
    const detail: LiveMessage[] = [];
    const off = hub.subscribeList({ phase: "Running" }, (m) => got.push(m));
    hub.subscribeDetail("x/a", (m) => detail.push(m));
    assert.deepEqual(got.map((m) => m.event), ["upsert", "sync"]);
    assert.deepEqual((got[1].data as { ids: string[] }).ids, ["df:x/a"]);
    const h = hub.handlers();
    const b = df("a", "x", "Error");
    h.update!(a, b);
    assert.equal(got.at(-1)!.event, "remove");
    assert.equal(detail.at(-1)!.event, "replace");
    assert.match((detail.at(-1)!.data as { html: string }).html, /Error/);
    h.update!(b, df("a", "x", "Running"));
    assert.equal(got.at(-1)!.event, "upsert");
    h.delete!(b);
    assert.equal(detail.at(-1)!.event, "gone");
    off();
    h.add!(df("c", "x", "Running"), false);
    assert.equal(got.at(-1)!.event, "upsert", "no message after unsubscribing");
    assert.equal(hub.size, 1);
  });
});

describe("the operator's metrics", () => {
  it("reads the Prometheus text format and condenses the console's numbers", () => {
    const samples = parsePrometheusText(`# HELP x y
workqueue_depth{name="dataflow"} 3
controller_runtime_reconcile_total{controller="dataflow",result="success"} 10
controller_runtime_reconcile_total{controller="dataflow",result="error"} 2
controller_runtime_reconcile_errors_total{controller="dataflow"} 2
events_written_total{verb="create"} 4
events_written_total{verb="patch"} 1
events_dropped_total{reason="queue \\"full\\""} 1
dataflow_status{namespace="a",name="b",phase="Running"} 1
leader_election_master_status{name="dataflow-operator.dataflow.io"} 1
bad line
`);
    const m = condense(samples);
    assert.equal(m.queueDepth, 3);
    assert.deepEqual(m.reconciles, { success: 10, error: 2 });
    assert.equal(m.reconcileErrors, 2);
    assert.deepEqual(m.events.written, { create: 4, patch: 1 });
    assert.deepEqual(m.events.dropped, { 'queue "full"': 1 });
    assert.deepEqual(m.dataflows, { Running: 1 });
    assert.equal(m.leader, 1);
  });
});

describe("field messages", () => {
  const yaml = `apiVersion: dataflow.dataflow.io/v1
kind: DataFlow
metadata:
  name: x
  annotations:
    example.com/a.b: "1"
spec:
  source:
    type: kafka
    kafka:
      brokers:
        - a:1
        - b:2
`;
  it("finds the line of a field, or of its nearest ancestor that is written", () => {
    assert.deepEqual(splitFieldPath("spec.sink.kafka.brokers[1]"), ["spec", "sink", "kafka", "brokers", 1]);
    assert.deepEqual(splitFieldPath("metadata.annotations[example.com/a.b]"), [
      "metadata",
      "annotations",
      "example.com/a.b",
    ]);
    assert.equal(fieldLine(yaml, "spec.source.type"), 9);
    assert.equal(fieldLine(yaml, "spec.source.kafka.brokers[1]"), 13);
    assert.equal(fieldLine(yaml, "spec.source.kafka.topic"), 10, "missing: its parent");
    assert.equal(fieldLine(yaml, "metadata.annotations[example.com/a.b]"), 6);
    assert.equal(fieldLine(`{"spec": {"source": {"type": "x"}}}`, "spec.source.type"), 1);
    assert.equal(fieldLine("a: [", "a"), undefined);
  });

  it("turns the API server's refusals into field errors", () => {
    const invalid = errorFromResponse(422, {
      kind: "Status",
      status: "Failure",
      reason: "Invalid",
      message: 'DataFlow.dataflow.dataflow.io "x" is invalid: ...',
      details: {
        causes: [
          {
            reason: "FieldValueNotSupported",
            message: 'Unsupported value: "bogus"',
            field: "spec.source.type",
          },
          { reason: "FieldValueInvalid", message: "some rules were not checked", field: "<nil>" },
        ],
      },
      code: 422,
    });
    assert.ok(invalid instanceof InvalidError);
    assert.deepEqual(errorsOf(invalid), [
      { field: "spec.source.type", message: 'Unsupported value: "bogus"' },
      { field: undefined, message: "some rules were not checked" },
    ]);
    const strict = errorFromResponse(400, {
      kind: "Status",
      reason: "BadRequest",
      message: 'strict decoding error: unknown field "spec.bogus", unknown field "spec.other"',
      code: 400,
    });
    assert.ok(strict instanceof BadRequestError);
    assert.deepEqual(errorsOf(strict).map((e) => e.field), ["spec.bogus", "spec.other"]);
    const forbidden = errorFromResponse(403, {
      kind: "Status",
      reason: "Forbidden",
      message: "no",
      code: 403,
    });
    assert.deepEqual(errorsOf(forbidden), [{ message: "Forbidden by the API server: no" }]);
  });

  it("checks the form's text before sending it", () => {
    assert.equal(parseDataFlowText("a: [").ok, false);
    assert.equal(parseDataFlowText("- 1").ok, false);
    const noNs = parseDataFlowText("metadata: {name: x}\nspec: {}");
    assert.ok(!noNs.ok && noNs.errors[0].field === "metadata.namespace");
    const ok = parseDataFlowText("metadata: {name: x, namespace: y}\nspec: {}");
    assert.ok(ok.ok && ok.value.kind === "DataFlow" && ok.value.apiVersion === "dataflow.dataflow.io/v1");
  });
});

describe("sessions and the command line", () => {
  const req = (headers: Record<string, string>) => ({ headers, socket: {} }) as unknown as IncomingMessage;

  it("CSRF tokens belong to their session; posts from another origin are refused", () => {
    const sessions = new Sessions();
    const cookies: string[] = [];
    const res = { setHeader: (_: string, v: string) => cookies.push(v) };
    const s = sessions.ensure(req({}), res as never);
    assert.match(cookies[0], /^dataflow_console_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const again = sessions.find(req({ cookie: cookies[0].split(";")[0] }));
    assert.equal(again?.id, s.id);
    assert.ok(sessions.csrfOk(s, s.csrf));
    assert.ok(!sessions.csrfOk(s, "x"));
    assert.ok(!sessions.csrfOk(undefined, s.csrf));
    assert.ok(sameOrigin(req({ host: "h:1", origin: "http://h:1" })));
    assert.ok(!sameOrigin(req({ host: "h:1", origin: "http://evil" })));
    assert.ok(!sameOrigin(req({ host: "h:1", origin: "null" })));
    assert.ok(!sameOrigin(req({ host: "h:1", "sec-fetch-site": "cross-site" })));
    assert.ok(sameOrigin(req({ host: "h", origin: "https://h", "x-forwarded-proto": "https" })));
  });

  it("flags: defaults, refusals, and who writes", () => {
    const local = parseConsoleArgs([], {});
    assert.equal(local.listen, "127.0.0.1:8080");
    assert.equal(local.operatorMetricsUrl, "http://127.0.0.1:9090/metrics");
    assert.equal(local.enableWrites, false);
    const pod = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal(parseConsoleArgs([], pod).listen, ":8080");
    assert.deepEqual(
      parseConsoleArgs(["--namespace", "a,b", "-enable-writes", "--operator-metrics-url=0"], {}),
      {
        ...local,
        namespaces: ["a", "b"],
        enableWrites: true,
        operatorMetricsUrl: undefined,
      },
    );
    assert.throws(() => parseConsoleArgs(["--bogus"], {}), /unknown flag --bogus/);
    assert.throws(() => parseConsoleArgs(["--listen"], {}), /needs a value/);
    assert.throws(() => parseConsoleArgs(["--listen=nope"], {}), /expected \[host\]:port/);
    assert.throws(() => parseConsoleArgs(["--operator-metrics-url=ftp://x"], {}), /http/);
    assert.equal(chooseWriteMode(false, undefined, true), "off");
    assert.equal(chooseWriteMode(true, undefined, true), "token");
    assert.equal(chooseWriteMode(true, undefined, false), "kubeconfig");
    assert.throws(() => chooseWriteMode(true, "kubeconfig", true), /around their RBAC/);
    assert.throws(() => chooseWriteMode(false, "token", false), /needs --enable-writes/);
  });

  it("`dataflow-operator console --help` prints its flags; a bad flag exits 2 before connecting", async () => {
    let out = "", err = "";
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: {} };
    assert.equal(await main(["console", "--help"], io), 0);
    assert.match(out, /^Usage: dataflow-operator console \[flags\]/);
    assert.match(out, /--enable-writes/);
    assert.equal(await main(["console", "--listen", "nowhere"], io), 2);
    assert.match(err, /^error: --listen=nowhere: expected \[host\]:port or 0; see console --help\n$/);
    out = "";
    assert.equal(await main(["--help"], io), 0);
    assert.match(out, /\n {2}console {5}the web console/);
  });
});
