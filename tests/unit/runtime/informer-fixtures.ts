/**
 * What the informer's unit tests share (informer.test.ts, informer-watch.test.ts): an informer of
 * ConfigMaps on the in-memory API server and a fake clock, its handler calls as text, and fake
 * time moved from timer to timer until a condition holds.
 */
import assert from "node:assert/strict";
import { KubeClient, type KubeClientOptions, type KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { Informer, type InformerOptions } from "../../../lib/runtime/informer.ts";
import { FakeApiServer } from "../../tools/fake-apiserver.ts";

/** The fake API server's collection of ConfigMaps. */
export const CM = "v1/configmaps";

/** A ConfigMap named `name` in `ns`, with `extra` metadata. */
export const cm = (name: string, ns = "ns", extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...extra },
  data: { v: name },
});

/** Advances fake time, from timer to timer, until `cond` holds (fails after `maxMs` of fake time). */
export async function advanceUntil(
  clock: FakeClock,
  cond: () => boolean,
  what: string,
  maxMs = 600_000,
  detail = "",
) {
  const end = clock.now() + maxMs;
  while (!cond() && clock.now() < end) {
    const next = clock.nextTimerAt();
    await clock.advance(
      Math.max(1, Math.min((next ?? clock.now() + 50) - clock.now(), end - clock.now(), 5_000)),
    );
  }
  assert.ok(cond(), `waited for ${what}${detail}`);
}

let running: Informer[] = [];

/** Has {@link stopInformers} stop `inf` (an informer a test built itself); returns it. */
export function track<T extends Informer>(inf: T): T {
  running.push(inf);
  return inf;
}

/** Stops every informer {@link setup} or {@link track} got (each test file's `afterEach`). */
export function stopInformers(): void {
  for (const i of running) i.stop();
  running = [];
}

/** An informer of ConfigMaps (not started), with its API server, clock and handler calls. */
export function setup(options: InformerOptions = {}, clientOptions: KubeClientOptions = {}) {
  const api = new FakeApiServer();
  const clock = new FakeClock();
  const client = new KubeClient(api, {
    sleep: () => Promise.resolve(),
    registry: new Registry(),
    ...clientOptions,
  });
  const inf = new Informer(client, builtin.ConfigMap, { clock, registry: new Registry(), ...options });
  running.push(inf);
  const events: string[] = [];
  inf.on({
    add: (o) => events.push(`add ${o.metadata?.name}`),
    update: (a, b) =>
      events.push(
        `update ${b.metadata?.name} ${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`,
      ),
    delete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  const until = (cond: () => boolean, what: string, maxMs?: number) =>
    advanceUntil(clock, cond, what, maxMs, `; events: ${events.join(", ")}`);
  const watches = () => api.requests.filter((r) => r.verb === "WATCH");
  return { api, clock, client, inf, events, until, watches };
}
