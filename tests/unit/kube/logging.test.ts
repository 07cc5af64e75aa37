import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeTransport, json } from "./fake-transport.ts";

after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("LOG_LEVEL=debug", () => {
  it("logs every API write with verb, path, status and duration, never the body", async () => {
    const lines: string[] = [];
    configureLogging({ level: "debug", format: "json", write: (l) => lines.push(l) });
    const c = new KubeClient(new FakeTransport(() => json(201, {})), { registry: new Registry() });
    await c.create(builtin.Secret, {
      metadata: { name: "s", namespace: "n" },
      stringData: { password: "hunter2-value" },
    });
    await c.get(builtin.ConfigMap, "cm", { namespace: "n" });
    const writes = lines.map((l) => JSON.parse(l)).filter((r) => String(r.message).startsWith("API write"));
    assert.equal(writes.length, 1);
    assert.equal(writes[0].verb, "POST");
    assert.equal(writes[0].path, "/api/v1/namespaces/n/secrets");
    assert.equal(writes[0].code, "201");
    assert.equal(typeof writes[0].durationMs, "number");
    assert.equal(writes[0].level, "DEBUG");
    assert.ok(!lines.join("").includes("hunter2-value"), "no body in any log line");
  });

  it("logs nothing at info level for the same calls", async () => {
    const lines: string[] = [];
    configureLogging({ level: "info", write: (l) => lines.push(l) });
    const c = new KubeClient(new FakeTransport(() => json(201, {})), { registry: new Registry() });
    await c.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "n" } });
    assert.deepEqual(lines, []);
  });
});
