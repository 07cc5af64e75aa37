/**
 * The API server's Event rules the recorder relies on (docs/behaviour/events.md, "Field limits"), checked against the real
 * kube-apiserver rather than trusted: what is refused with eventTime set, what the lenient path
 * allows, and how count updates and missing Events behave.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidError, NotFoundError } from "../../../lib/kube/errors.ts";
import type { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";

let cp: ControlPlane;
let ns: string;
let client: KubeClient;

let setup: Promise<void> | undefined;
/** Integration tests talk to a real server: allow them time (bun's default is 5 s). */
const SLOW = { timeout: 120_000 };

/** Shared setup, run by the first test: bun limits hooks to 5 s, while tests take a timeout option. */
const ready = () =>
  setup ??= (async () => {
    cp = await testControlPlane();
    ns = await freshNamespace(cp, "ev-rules");
    client = clientFor(cp, undefined, { retry: { maxRetries: 0 } });
  })();
after(() => client?.transport.close());

let seq = 0;
function body(over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `rule-${Date.now().toString(36)}-${seq++}`, namespace: ns },
    involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: "x", namespace: ns },
    reason: "Checked",
    message: "m",
    type: "Normal",
    count: 1,
    firstTimestamp: now.replace(/\.\d+Z$/, "Z"),
    lastTimestamp: now.replace(/\.\d+Z$/, "Z"),
    eventTime: now,
    source: { component: "rules-test" },
    reportingComponent: "rules-test",
    reportingInstance: "i",
    action: "Check",
    ...over,
  };
}
const create = (b: Record<string, unknown>, namespace = ns) => client.create(builtin.Event, b, { namespace });

describe("kube-apiserver Event validation (as the recorder assumes)", () => {
  it(
    "refuses a message over 1024 bytes when eventTime is set, counting bytes not characters",
    SLOW,
    async () => {
      await ready();
      await assert.rejects(create(body({ message: "€".repeat(342) })), InvalidError); // 1026 bytes, 342 characters
      await create(body({ message: "€".repeat(341) + "a" })); // exactly 1024 bytes
    },
  );

  it(
    "accepts an over-long message on the lenient path without eventTime (client-go record)",
    SLOW,
    async () => {
      await ready();
      const { eventTime: _t, reportingComponent: _c, reportingInstance: _i, action: _a, ...lenient } = body({
        message: "x".repeat(5000),
      });
      await create(lenient);
    },
  );

  it(
    "refuses an empty reason or action and a reportingInstance over 128 bytes when eventTime is set",
    SLOW,
    async () => {
      await ready();
      await assert.rejects(create(body({ reason: "" })), InvalidError);
      await assert.rejects(create(body({ action: "" })), InvalidError);
      await assert.rejects(create(body({ reportingInstance: "i".repeat(129) })), InvalidError);
      await assert.rejects(create(body({ reportingComponent: "has space" })), InvalidError);
    },
  );

  it(
    "accepts kopf's free-form type 'Error' on core/v1 (only events.k8s.io insists on Normal/Warning)",
    SLOW,
    async () => {
      await ready();
      await create(body({ type: "Error" }));
    },
  );

  it(
    "requires default or kube-system for cluster-scoped involved objects when eventTime is set",
    SLOW,
    async () => {
      await ready();
      const cluster = { apiVersion: "v1", kind: "Namespace", name: ns };
      await assert.rejects(create(body({ involvedObject: cluster })), InvalidError);
      await create(
        body({ involvedObject: cluster, metadata: { name: `rule-cl-${ns}-${seq++}`, namespace: "default" } }),
        "default",
      );
    },
  );

  it(
    "lets core/v1 patch count, lastTimestamp and message, and answers 404 for a missing Event",
    SLOW,
    async () => {
      await ready();
      const b = body();
      await create(b);
      const name = (b.metadata as { name: string }).name;
      const patched = await client.patch<{ count: number; message: string }>(builtin.Event, name, {
        count: 7,
        message: "changed",
      }, { namespace: ns, type: "merge" });
      assert.equal(patched.count, 7);
      assert.equal(patched.message, "changed");
      await assert.rejects(
        client.patch(builtin.Event, "no-such-event", { count: 2 }, { namespace: ns, type: "merge" }),
        NotFoundError,
      );
    },
  );
});
