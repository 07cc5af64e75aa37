/**
 * Namespaces that cannot take Events, against the real API server: a terminating namespace
 * answers 403 with cause NamespaceTerminating (dropped quietly, not retried), a missing one 404
 * (one warning per namespace, not retried), and neither disturbs events for healthy namespaces.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { CountingTransport, kubectlJson, type ServerEvent } from "./helpers.ts";

/** Integration tests talk to a real server: allow them time (bun's default is 5 s). */
const SLOW = { timeout: 120_000 };
const lines: Record<string, unknown>[] = [];
after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("namespaces that cannot take Events", () => {
  it(
    "drops events for terminating and missing namespaces without retries, and keeps the rest flowing",
    SLOW,
    async () => {
      const cp: ControlPlane = await testControlPlane();
      configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
      const healthy = await freshNamespace(cp, "ev-ok");
      const dying = await freshNamespace(cp, "ev-dying");
      // A finalizer keeps it Terminating for good (and there is no namespace controller here anyway).
      await cp.kubectlOk(["create", "configmap", "-n", dying, "keep"]);
      await cp.kubectlOk(["delete", "namespace", dying, "--wait=false"]);
      const missing = `ev-missing-${Date.now().toString(36)}`;

      const transport = new CountingTransport(clientFor(cp).transport);
      const registry = new Registry();
      const r = new EventRecorder(new KubeClient(transport), { component: "dataflow-controller", registry });
      lines.length = 0;
      const cm = (ns: string, name: string) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, namespace: ns },
      });
      for (let i = 0; i < 3; i++) {
        r.warn(cm(dying, `d${i}`), "Sync", "x");
        r.warn(cm(missing, `m${i}`), "Sync", "x");
        r.info(cm(healthy, `h${i}`), "Sync", "x");
      }
      await r.close({ timeoutMs: 20_000 });

      const statuses = (ns: string) =>
        transport.eventCalls().filter((c) => c.path.includes(`/namespaces/${ns}/`)).map((c) => c.status);
      assert.deepEqual(statuses(dying), [403, 403, 403], "one attempt each, no retries");
      assert.deepEqual(statuses(missing), [404, 404, 404]);
      assert.deepEqual(statuses(healthy), [201, 201, 201]);
      const dropped = registry.counter("events_dropped_total", "", ["reason"]);
      assert.equal(dropped.get({ reason: "namespace_terminating" }), 3);
      assert.equal(dropped.get({ reason: "namespace_missing" }), 3);
      const loud = lines.filter((l) =>
        String(l.logger).endsWith(".events") && (l.level === "ERROR" || l.level === "WARN")
      );
      assert.equal(loud.length, 1, loud.map((l) => l.message).join("\n"));
      assert.equal(loud[0].namespace, missing);
      const events =
        (await kubectlJson<{ items: ServerEvent[] }>(cp, ["-n", healthy, "get", "events"])).items;
      assert.equal(events.length, 3);
      transport.close();
    },
  );
});
