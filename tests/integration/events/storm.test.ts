/**
 * 1,000 identical warnings against the real API server: one Event with count 1,000, in at most
 * one create, one count update per update interval of the storm, and a final one (1 +
 * ceil(T/interval) + 1; docs/behaviour/events.md, "Aggregation"), counted by a counting transport
 * and confirmed at the API server's /metrics.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { waitFor } from "../../tools/wait.ts";
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
    "turns 1,000 identical warnings in a burst into one Event with count 1,000 in at most 2 calls",
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
    "spread over 10 s (fake time) with a 1 s update interval: count exact one interval later, <= 12 calls",
    SLOW,
    async () => {
      await ready();
      const transport = new CountingTransport(clientFor(cp).transport);
      // The recorder runs on fake time against the real server: the storm lasts exactly 10 s of
      // its clock however slow the machine is, so the bound on calls is exact.
      const clock = new FakeClock();
      const r = new EventRecorder(new KubeClient(transport), {
        component: "dataflow-controller",
        registry: new Registry(),
        updateIntervalMs: 1000,
        clock,
      });
      await cp.kubectlOk(["-n", ns, "apply", "-f", "-"], {
        input:
          "apiVersion: v1\nkind: Pod\nmetadata: {name: crashy}\nspec: {containers: [{name: c, image: busybox}]}\n",
      });
      const podObj = await kubectlJson(cp, ["-n", ns, "get", "pod", "crashy"]);
      const serverBefore = await serverEventCalls(admin);
      for (let i = 0; i < 1000; i++) {
        r.warn(podObj, "BackOff", "Back-off restarting failed container");
        if (i % 10 === 9) await clock.advance(100);
      }
      await clock.advance(1000); // one update interval after the last emit: the final count update is due
      const events = await waitFor("the final count on the server, without close()", async () => {
        const found = await eventsOf("crashy");
        return found.length === 1 && found[0].count === 1000 && found;
      });
      assert.equal(events.length, 1);
      await waitFor("no write in flight", () => r.writesInFlight === 0 && r.queueDepth === 0);
      const calls = transport.eventCalls().length;
      const bound = 1 + Math.ceil(10_000 / 1000) + 1;
      assert.ok(calls <= bound, `${calls} calls > ${bound} over 10 s of fake time`);
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
