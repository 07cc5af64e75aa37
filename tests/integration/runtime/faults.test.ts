/**
 * The informer and the work queue between a client and the real API server with the fault
 * transport injecting dropped streams, stalls, 429s with Retry-After and 500s: no update is lost,
 * and the controller's last view of every object equals the server's final state.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { staticCredentials } from "../../../lib/kube/credentials.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { HttpTransport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { Controller } from "../../../lib/runtime/controller.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { FaultTransport } from "../../tools/fault-transport.ts";
import { waitFor } from "../../tools/wait.ts";

/** Paces the scenario's timeline (fault phases, update rounds, reconcile work); never synchronisation. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("runtime under injected faults (real API server)", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await testControlPlane();
  });

  it("loses no update through dropped streams, stalls, 429s and 500s", async () => {
    const admin = clientFor(cp);
    const ns = await freshNamespace(cp, "faults");
    const KEYS = 8, ROUNDS = 25;
    for (let k = 0; k < KEYS; k++) {
      await admin.create(builtin.ConfigMap, { metadata: { name: `c${k}`, namespace: ns }, data: { n: "0" } });
    }
    const faults = new FaultTransport(
      new HttpTransport({
        server: cp.info.server,
        tls: { ca: cp.info.ca },
        credentials: staticCredentials({ cert: cp.info.admin.cert, key: cp.info.admin.key }),
      }),
    );
    const registry = new Registry();
    const client = new KubeClient(faults, { registry, retry: { baseDelayMs: 20, maxDelayMs: 300 } });
    const inf = new Informer<ConfigMap & KubeObject>(client, builtin.ConfigMap, {
      namespace: ns,
      registry,
      idleTimeoutMs: 1_500,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const seen = new Map<string, string>();
    let reconciles = 0;
    const controller = new Controller({
      name: "faults",
      registry,
      concurrency: 3,
      reconcile: async (ctx) => {
        reconciles++;
        // Read through the faulty client half the time, so reconciles fail and back off too.
        if (reconciles % 2 === 0) {
          await client.get(builtin.ConfigMap, ctx.name, { namespace: ctx.namespace, signal: ctx.signal });
        }
        const obj = inf.get(ctx.key);
        seen.set(ctx.key, (obj?.data as Record<string, string> | undefined)?.n ?? "<gone>");
        await sleep(2);
      },
    }).for(inf);
    const infRun = inf.start();
    const ctlRun = controller.start();
    await inf.waitForSync();

    let chaos = true;
    const chaosLoop = (async () => {
      let i = 0;
      while (chaos) {
        switch (i++ % 5) {
          case 0:
            faults.cutWatches();
            break;
          case 1:
            faults.cutWatches();
            faults.throttle({ count: 3, retryAfterSeconds: 1 });
            break;
          case 2:
            faults.failShare(0.3, { verbs: ["GET", "LIST", "WATCH"] });
            break;
          case 3:
            faults.stallWatches(true);
            await sleep(2_000); // longer than the idle timeout: the informer must notice
            faults.stallWatches(false);
            break;
          case 4:
            faults.heal();
            break;
        }
        await sleep(250);
      }
      faults.heal();
    })();

    for (let r = 1; r <= ROUNDS; r++) {
      for (let k = 0; k < KEYS; k++) {
        if (k === 7 && r > 7) continue;
        await admin.patch(builtin.ConfigMap, `c${k}`, { data: { n: String(r) } }, { namespace: ns });
      }
      if (r === 7) await admin.delete(builtin.ConfigMap, "c7", { namespace: ns });
      await sleep(250);
    }
    chaos = false;
    await chaosLoop;

    const expected = new Map<string, string>();
    for (let k = 0; k < KEYS; k++) expected.set(`${ns}/c${k}`, k === 7 ? "<gone>" : String(ROUNDS));
    try {
      await waitFor(
        "the controller's view of every object to reach the server's final state",
        () => [...expected].every(([key, v]) => seen.get(key) === v),
        { timeoutMs: 60_000, describe: () => `seen: ${JSON.stringify(Object.fromEntries(seen))}` },
      );
      assert.deepEqual(Object.fromEntries(seen), Object.fromEntries(expected));
      assert.ok(faults.count({ outcome: "throttled" }) > 0, "429s were injected");
      assert.ok(faults.count({ outcome: "failed" }) > 0, "500s were injected");
      assert.ok(inf.stats.watches > 3, `watches were re-established (${inf.stats.watches})`);
      const final = await admin.list<ConfigMap>(builtin.ConfigMap, { namespace: ns });
      assert.deepEqual(
        inf.list().map((o) => `${o.metadata!.name}@${o.metadata!.resourceVersion}`).sort(),
        final.items.map((o) => `${o.metadata!.name}@${o.metadata!.resourceVersion}`).sort(),
      );
    } finally {
      await controller.stop({ timeoutMs: 5_000 });
      inf.stop();
      await Promise.all([infRun, ctlRun]);
      faults.close();
    }
  });
});
