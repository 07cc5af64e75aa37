/**
 * Events as users see them: `kubectl describe` and `kubectl get events` on a namespaced custom
 * object and on a cluster-scoped object, kopf's type mapping, events about events sending
 * nothing, and a 2,000 x "€" message accepted by the real API server.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { CountingTransport, installWidgetCrd, kubectlJson, type ServerEvent } from "./helpers.ts";

let cp: ControlPlane;
let ns: string;
let transport: CountingTransport;
let client: KubeClient;

let setup: Promise<void> | undefined;
/** Integration tests talk to a real server: allow them time (bun's default is 5 s). */
const SLOW = { timeout: 120_000 };

/** Shared setup, run by the first test: bun limits hooks to 5 s, while tests take a timeout option. */
const ready = () =>
  setup ??= (async () => {
    cp = await testControlPlane();
    await installWidgetCrd(cp);
    ns = await freshNamespace(cp, "ev-describe");
    transport = new CountingTransport(clientFor(cp).transport);
    client = new KubeClient(transport);
  })();
after(() => transport?.close());

function recorder(): EventRecorder {
  return new EventRecorder(client, {
    component: "dataflow-controller",
    instance: "it-1",
    registry: new Registry(),
  });
}

describe("events seen through kubectl", () => {
  it("shows info, warn, exception and a kopf-style type on a namespaced custom object", SLOW, async () => {
    await ready();
    await cp.kubectlOk(["-n", ns, "apply", "-f", "-"], {
      input:
        "apiVersion: events-test.example.com/v1\nkind: Widget\nmetadata: {name: gear}\nspec: {size: 3}\n",
    });
    const widget = await kubectlJson(cp, ["-n", ns, "get", "widget", "gear"]);
    const r = recorder();
    r.info(widget, "Created", "Widget gear was created");
    r.warn(widget, "SlowSync", "Sync took 12 s");
    r.exception(widget, "ReconcileFailed", "Reconcile failed:", new Error("ConfigMap is immutable"));
    r.event(widget, { type: "Error", reason: "Some reason", message: "multi\nline\tmessage" });
    const result = await r.close({ timeoutMs: 10_000 });
    assert.equal(result.abandoned, 0);

    const describe = await cp.kubectlOk(["-n", ns, "describe", "widget", "gear"]);
    const section = describe.slice(describe.indexOf("Events:"));
    assert.match(section, /Normal\s+Created\s+\S+\s+dataflow-controller\s+Widget gear was created/);
    assert.match(section, /Warning\s+SlowSync\s+\S+\s+dataflow-controller\s+Sync took 12 s/);
    assert.match(
      section,
      /Warning\s+ReconcileFailed\s+\S+\s+dataflow-controller\s+Reconcile failed: ConfigMap is immutable/,
    );
    assert.match(section, /Warning\s+SomeReason\s+\S+\s+dataflow-controller\s+multi line message/);

    const table = await cp.kubectlOk(["-n", ns, "get", "events", "--sort-by=.lastTimestamp"]);
    assert.equal((table.match(/widget\/gear/g) ?? []).length, 4, table);
    const events = (await kubectlJson<{ items: ServerEvent[] }>(cp, ["-n", ns, "get", "events"])).items;
    const uid = (widget.metadata as { uid: string }).uid;
    for (const ev of events) {
      assert.deepEqual(ev.involvedObject, {
        apiVersion: "events-test.example.com/v1",
        kind: "Widget",
        name: "gear",
        namespace: ns,
        uid,
      });
      assert.equal(ev.reportingComponent, "dataflow-controller");
      assert.equal(ev.reportingInstance, "it-1");
      assert.equal(ev.source?.component, "dataflow-controller");
      assert.ok(ev.eventTime && ev.firstTimestamp && ev.lastTimestamp && ev.action && ev.count === 1);
    }
  });

  it(
    "records cluster-scoped objects in default with an empty involved namespace, found by describe",
    SLOW,
    async () => {
      await ready();
      const gadgetName = `g-${Date.now().toString(36)}`;
      await cp.kubectlOk(["apply", "-f", "-"], {
        input: `apiVersion: events-test.example.com/v1\nkind: Gadget\nmetadata: {name: ${gadgetName}}\n`,
      });
      const gadget = await kubectlJson(cp, ["get", "gadget", gadgetName]);
      const target = await freshNamespace(cp, "ev-cluster");
      const nsObj = await kubectlJson(cp, ["get", "namespace", target]);
      const r = recorder();
      r.warn(gadget, "Overheated", `Gadget ${gadgetName} is too hot`);
      r.info(nsObj, "Provisioned", `Namespace ${target} is ready`);
      await r.close({ timeoutMs: 10_000 });
      for (const name of [gadgetName, target]) {
        const events = (await kubectlJson<{ items: ServerEvent[] }>(cp, [
          "-n",
          "default",
          "get",
          "events",
          `--field-selector=involvedObject.name=${name},involvedObject.namespace=`,
        ])).items;
        assert.equal(events.length, 1, name);
        assert.equal(events[0].metadata.namespace, "default");
        assert.equal(events[0].involvedObject.namespace, undefined);
      }
      // kubectl's Namespace describer prints no events at all; the generic describer of a
      // cluster-scoped custom resource searches involvedObject.namespace="" and must find ours.
      const describe = await cp.kubectlOk(["describe", "gadget", gadgetName]);
      assert.match(
        describe.slice(describe.indexOf("Events:")),
        new RegExp(`Warning\\s+Overheated\\s+\\S+\\s+dataflow-controller\\s+Gadget ${gadgetName} is too hot`),
      );
      const table = await cp.kubectlOk(["get", "events", "-A", "--sort-by=.lastTimestamp"]);
      assert.match(table, new RegExp(`default\\s+\\S+\\s+Normal\\s+Provisioned\\s+namespace/${target}`));
    },
  );

  it("sends nothing for events about core and events.k8s.io Events", SLOW, async () => {
    await ready();
    const r = recorder();
    r.info(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "seed", namespace: ns, uid: "u-seed" } },
      "Seed",
      "x",
    );
    await r.close({ timeoutMs: 10_000 });
    const [real] = (await kubectlJson<{ items: ServerEvent[] & Record<string, unknown>[] }>(cp, [
      "-n",
      ns,
      "get",
      "events",
      "--field-selector=involvedObject.name=seed",
    ])).items;
    const before = transport.eventCalls().length;
    const r2 = recorder();
    r2.warn({ ...real, apiVersion: "v1", kind: "Event" }, "Loop", "an event about an event");
    r2.warn({ apiVersion: "events.k8s.io/v1", kind: "Event", metadata: real.metadata }, "Loop", "again");
    await r2.close({ timeoutMs: 10_000 });
    assert.equal(transport.eventCalls().length, before, "no request at all");
    const all = (await kubectlJson<{ items: ServerEvent[] }>(cp, ["-n", ns, "get", "events"])).items;
    assert.equal(all.filter((e) => e.involvedObject.kind === "Event").length, 0);
  });

  it("has a 2,000 x '€' message accepted, cut to 1024 bytes with head and tail", SLOW, async () => {
    await ready();
    const r = recorder();
    r.warn(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "euro", namespace: ns, uid: "u-euro" } },
      "Long",
      "€".repeat(2000),
    );
    await r.close({ timeoutMs: 10_000 });
    const posts = transport.eventCalls("POST").filter((q) => q.body?.includes('"name":"euro"'));
    assert.deepEqual(posts.map((q) => q.status), [201]);
    const [ev] = (await kubectlJson<{ items: ServerEvent[] }>(cp, [
      "-n",
      ns,
      "get",
      "events",
      "--field-selector=involvedObject.name=euro",
    ])).items;
    const message = ev.message ?? "";
    const bytes = new TextEncoder().encode(message).length;
    assert.ok(bytes <= 1024 && bytes > 1000, `${bytes} bytes`);
    assert.ok(message.startsWith("€€€") && message.endsWith("€€€") && message.includes("..."));
  });
});
