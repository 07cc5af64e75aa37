/**
 * A restricted identity without `create` on events: the caller is unharmed (no throw, its other
 * API work goes on), no retry storm (one call per series), and exactly one clear error log per
 * namespace.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { CountingTransport } from "./helpers.ts";

let cp: ControlPlane;
const lines: Record<string, unknown>[] = [];

let setup: Promise<void> | undefined;
/** Integration tests talk to a real server: allow them time (bun's default is 5 s). */
const SLOW = { timeout: 120_000 };

/** Shared setup, run by the first test: bun limits hooks to 5 s, while tests take a timeout option. */
const ready = () =>
  setup ??= (async () => {
    cp = await testControlPlane();
    configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
  })();
after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("recording without permission to create events", () => {
  it("leaves the caller unharmed and logs one clear error per namespace", SLOW, async () => {
    await ready();
    const namespaces = [await freshNamespace(cp, "ev-rbac-a"), await freshNamespace(cp, "ev-rbac-b")];
    const user = await cp.mintUser(`no-events-${Date.now().toString(36)}`);
    for (const ns of namespaces) {
      // The operator may read ConfigMaps but was never granted anything on events.
      await cp.kubectlOk([
        "-n",
        ns,
        "create",
        "role",
        "cm-reader",
        "--verb=get,list",
        "--resource=configmaps",
      ]);
      await cp.kubectlOk([
        "-n",
        ns,
        "create",
        "rolebinding",
        "cm-reader",
        "--role=cm-reader",
        `--user=${user.name}`,
      ]);
      await cp.kubectlOk(["-n", ns, "create", "configmap", "settings", "--from-literal=a=b"]);
    }
    const transport = new CountingTransport(clientFor(cp, user).transport);
    const client = new KubeClient(transport);
    const registry = new Registry();
    const r = new EventRecorder(client, { component: "dataflow-controller", registry });
    lines.length = 0;
    for (const ns of namespaces) {
      for (let i = 0; i < 20; i++) {
        assert.doesNotThrow(() =>
          r.warn(
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm${i}`, namespace: ns } },
            "Sync",
            "x",
          )
        );
      }
    }
    // The caller's own work is not disturbed.
    for (const ns of namespaces) await client.get(builtin.ConfigMap, "settings", { namespace: ns });
    const result = await r.close({ timeoutMs: 20_000 });
    assert.equal(result.abandoned, 0);

    const posts = transport.eventCalls("POST");
    assert.equal(posts.length, 40, "one attempt per series, no retries");
    assert.ok(posts.every((p) => p.status === 403));
    const errors = lines.filter((l) => l.level === "ERROR" && String(l.logger).endsWith(".events"));
    assert.equal(errors.length, 2, errors.map((e) => e.message).join("\n"));
    assert.deepEqual(errors.map((e) => e.namespace).sort(), [...namespaces].sort());
    for (const e of errors) {
      assert.match(String(e.message), /cannot write Events in namespace/);
      assert.match(String(e.message), /cannot create resource \\?"events\\?"/);
    }
    assert.equal(registry.counter("events_api_errors_total", "", ["code"]).get({ code: "403" }), 40);
    assert.equal(registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "forbidden" }), 40);
    for (const ns of namespaces) {
      const out = await cp.kubectlOk(["-n", ns, "get", "events", "-o", "name"]);
      assert.equal(out.trim(), "");
    }
    transport.close();
  });
});
