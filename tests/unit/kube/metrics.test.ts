/** The metrics middleware: client-go's rest_client_* series, one count per attempt, latency on the clock. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { ClientMetrics, measured } from "../../../lib/kube/metrics.ts";
import { stackTransport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { FakeTransport, json } from "./fake-transport.ts";

it("counts each request by code, method and host, and times it by verb on the clock", async () => {
  const clock = new FakeClock();
  const registry = new Registry();
  const t = new FakeTransport(async (r) => {
    if (r.method === "DELETE") throw new Error("refused before sending");
    await clock.sleep(250);
    return json(r.method === "POST" ? 201 : 200, {});
  });
  const metrics = new ClientMetrics(t.server, registry);
  const stacked = stackTransport(t, measured(metrics, clock));
  const pending = stacked.request({ method: "GET", path: "/api/v1/pods" });
  await flushMicrotasks();
  await clock.advance(250);
  await pending;
  const posted = stacked.request({ method: "POST", path: "/api/v1/namespaces/n/configmaps", body: "{}" });
  await clock.advance(250);
  await posted;
  await assert.rejects(stacked.request({ method: "DELETE", path: "/api/v1/namespaces/n/configmaps/a" }));

  const host = "fake.test:6443";
  assert.equal(metrics.host, host);
  assert.equal(metrics.requests.get({ code: "200", method: "GET", host }), 1);
  assert.equal(metrics.requests.get({ code: "201", method: "POST", host }), 1);
  assert.equal(metrics.requests.get({ code: "<error>", method: "DELETE", host }), 1);
  assert.equal(metrics.duration.count({ verb: "GET", host }), 1);
  const text = registry.render();
  assert.match(text, /rest_client_request_duration_seconds_sum\{verb="GET",host="fake\.test:6443"\} 0\.25/);
  assert.match(text, /rest_client_request_duration_seconds_sum\{verb="POST",host="fake\.test:6443"\} 0\.25/);
});

it("a client's watch is counted under the verb WATCH", async () => {
  const registry = new Registry();
  const t = new FakeTransport(() => new Response("", { status: 200 }));
  const c = new KubeClient(t, { registry });
  for await (const _ of c.watch(builtin.Pod)) { /* closed at once */ }
  const metrics = new ClientMetrics(t.server, registry);
  assert.equal(metrics.duration.count({ verb: "WATCH", host: metrics.host }), 1);
  assert.equal(metrics.requests.get({ code: "200", method: "GET", host: metrics.host }), 1);
});
