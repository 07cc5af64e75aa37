/**
 * 1,000 identical warnings against the real API server: one Event with count 1,000, in the
 * number of API calls the reference allows (<= 1 + ceil(T/interval) + 1), counted by a counting
 * transport and confirmed at the API server's /metrics.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { CountingTransport, delta, kubectlJson, type ServerEvent, serverEventCalls } from "./helpers.ts";

let cp: ControlPlane;
let ns: string;
let admin: KubeClient;

let setup: Promise<void> | undefined;
/** Integration tests talk to a real server: allow them time (bun's default is 5 s). */
const SLOW = { timeout: 120_000 };

/** Shared setup, run by the first test: bun limits hooks to 5 s, while tests take a timeout option. */
const ready = () =>
  setup ??= (async () => {
    cp = await testControlPlane();
    ns = await freshNamespace(cp, "ev-storm");
    admin = clientFor(cp);
  })();
after(() => admin?.transport.close());

async function eventsOf(name: string): Promise<ServerEvent[]> {
  return (await kubectlJson<{ items: ServerEvent[] }>(cp, [
    "-n",
    ns,
    "get",
    "events",
    `--field-selector=involvedObject.name=${name}`,
  ])).items;
}

describe("event storm against the real API server", () => {
  it(
    "turns 1,000 identical warnings in a burst into one Event with count 1,000 in 2 calls",
    SLOW,
    async () => {
      await ready();
      const transport = new CountingTransport(clientFor(cp).transport);
      const r = new EventRecorder(new KubeClient(transport), {
        component: "dataflow-controller",
        registry: new Registry(),
      });
      await cp.kubectlOk(["-n", ns, "apply", "-f", "-"], {
        input:
          "apiVersion: v1\nkind: Pod\nmetadata: {name: burst}\nspec: {containers: [{name: c, image: busybox}]}\n",
      });
      const target = await kubectlJson(cp, ["-n", ns, "get", "pod", "burst"]);
      const serverBefore = await serverEventCalls(admin);
      for (let i = 0; i < 1000; i++) r.warn(target, "BackOff", "Back-off restarting failed container");
      await r.close({ timeoutMs: 10_000 });
      const serverDelta = delta(serverBefore, await serverEventCalls(admin));
      const events = await eventsOf("burst");
      assert.equal(events.length, 1);
      assert.equal(events[0].count, 1000);
      const calls = transport.eventCalls();
      assert.ok(calls.length <= 2, `${calls.length} calls`);
      assert.ok(calls.every((c) => c.status < 300));
      // Other clients of a shared control plane may add to the server's counters, never subtract.
      assert.ok((serverDelta.POST ?? 0) >= transport.eventCalls("POST").length, JSON.stringify(serverDelta));
      const describe = await cp.kubectlOk(["-n", ns, "describe", "pod", "burst"]);
      assert.match(describe, /Warning\s+BackOff\s+\S+ \(x1000 over \S+\)\s+dataflow-controller\s+Back-off/);
      const table = await cp.kubectlOk([
        "-n",
        ns,
        "get",
        "events",
        "--field-selector=involvedObject.name=burst",
      ]);
      assert.match(table, /Warning\s+BackOff\s+pod\/burst/);
      transport.close();
    },
  );

  it(
    "spread over 10 s with a 1 s update interval: count exact within one interval, <= 12 calls",
    SLOW,
    async () => {
      await ready();
      const transport = new CountingTransport(clientFor(cp).transport);
      const r = new EventRecorder(new KubeClient(transport), {
        component: "dataflow-controller",
        registry: new Registry(),
        updateIntervalMs: 1000,
      });
      await cp.kubectlOk(["-n", ns, "apply", "-f", "-"], {
        input:
          "apiVersion: v1\nkind: Pod\nmetadata: {name: crashy}\nspec: {containers: [{name: c, image: busybox}]}\n",
      });
      const podObj = await kubectlJson(cp, ["-n", ns, "get", "pod", "crashy"]);
      const serverBefore = await serverEventCalls(admin);
      const started = Date.now();
      for (let i = 0; i < 1000; i++) {
        r.warn(podObj, "BackOff", "Back-off restarting failed container");
        if (i % 10 === 9) await new Promise((res) => setTimeout(res, 100 - ((Date.now() - started) % 100)));
      }
      const seconds = (Date.now() - started) / 1000;
      await new Promise((res) => setTimeout(res, 1500)); // one update interval (plus the write) after the last emit
      const events = await eventsOf("crashy");
      assert.equal(events.length, 1);
      assert.equal(events[0].count, 1000, "exact without close()");
      const calls = transport.eventCalls().length;
      const bound = 1 + Math.ceil(seconds / 1) + 1;
      assert.ok(calls <= bound, `${calls} calls > ${bound} over ${seconds} s`);
      const serverDelta = delta(serverBefore, await serverEventCalls(admin));
      assert.ok((serverDelta.POST ?? 0) + (serverDelta.PATCH ?? 0) >= calls, JSON.stringify(serverDelta));
      const describe = await cp.kubectlOk(["-n", ns, "describe", "pod", "crashy"]);
      assert.match(
        describe,
        /Warning\s+BackOff\s+\S+ \(x1000 over \S+\)\s+dataflow-controller\s+Back-off restarting failed container/,
      );
      await r.close({ timeoutMs: 5000 });
      transport.close();
    },
  );
});
