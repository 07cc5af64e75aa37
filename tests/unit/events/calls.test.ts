/** Call-site guarantees: instant, never throwing, events about events skipped, closed recorders drop. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { fakeSetup, pod } from "./fakes.ts";

describe("call site", () => {
  it("counts 100,000 emits in memory while the API hangs, and accounts for every one at close", async () => {
    // How fast emits return is a benchmark figure (bench/events/emit.ts), not a test.
    const setup = fakeSetup();
    setup.server.hang = true;
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    for (let i = 0; i < 100_000; i++) r.warn(pod(`p${i % 500}`), "Storm", `message ${i % 7}`);
    assert.equal(setup.server.count(), 0, "emit itself never touches the network");
    assert.equal(r.seriesCount, 3500, "500 objects x 7 messages");
    await setup.clock.advance(0);
    assert.equal(
      setup.server.inFlight,
      4,
      "only the first window of writes is sent; the rest waits in memory",
    );
    const counter = (name: string, labels: Record<string, string> = {}) =>
      setup.registry.counter(name, "", Object.keys(labels)).get(labels);
    assert.equal(counter("events_coalesced_total"), 100_000 - 3500);
    const closing = r.close({ timeoutMs: 50 });
    await setup.clock.advance(50);
    const result = await closing;
    assert.equal(
      result.abandoned,
      100_000,
      "no occurrence reached the hanging server, and none went unaccounted",
    );
    assert.equal(counter("events_dropped_total", { reason: "abandoned" }), 100_000);
  });

  it("never throws, whatever it is given", () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    const hostile = {
      kind: "Pod",
      metadata: {
        get name(): string {
          throw new Error("boom");
        },
      },
    };
    const inputs: unknown[] = [null, undefined, 42, "str", [], {}, { kind: "Pod" }, hostile, pod("ok")];
    for (const obj of inputs) {
      assert.doesNotThrow(() =>
        r.event(obj as never, { type: "X", reason: undefined as never, message: null as never })
      );
      assert.doesNotThrow(() => r.info(obj as never, "", ""));
      assert.doesNotThrow(() =>
        r.exception(obj as never, "", "m", {
          toString: () => {
            throw new Error("x");
          },
        })
      );
      assert.doesNotThrow(() => r.event(obj as never, undefined as never));
    }
    // Only the object whose getter throws reaches the internal-error path (4 calls); the rest is handled.
    assert.equal(
      setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "internal" }),
      4,
    );
  });

  it("never throws from exception() either, whatever its reason and message are", () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    // Untyped callers: a value without a string form (no prototype), or whose toString throws.
    const noString = Object.create(null);
    const throwing = {
      toString: () => {
        throw new Error("x");
      },
    };
    for (const bad of [noString, throwing]) {
      assert.doesNotThrow(() => r.exception(pod("a"), bad as never, "m", new Error("e")));
      assert.doesNotThrow(() => r.exception(pod("a"), "R", bad as never, new Error("e")));
    }
    // An object whose getter throws something String() refuses.
    const nasty = {
      kind: "Pod",
      metadata: {
        get name(): string {
          throw noString;
        },
      },
    };
    assert.doesNotThrow(() => r.info(nasty, "R", "m"));
    assert.equal(
      setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "internal" }),
      5,
      "each unreadable call is counted as an internal drop",
    );
  });

  it("throws at construction for a component that the API server would refuse", () => {
    const setup = fakeSetup();
    assert.throws(() => new EventRecorder(setup.client, { component: "has space" }), TypeError);
    assert.throws(() => new EventRecorder(setup.client, { component: "" }), TypeError);
  });

  it("skips events about core and events.k8s.io Events: no request, counted", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    r.warn(
      { apiVersion: "v1", kind: "Event", metadata: { name: "e1", namespace: "ns1", uid: "u" } },
      "Loop",
      "x",
    );
    r.info({ apiVersion: "events.k8s.io/v1", kind: "Event", name: "e2", namespace: "ns1" }, "Loop", "x");
    r.info({ apiVersion: "events.k8s.io/v1beta1", kind: "Event", name: "e3", namespace: "ns1" }, "Loop", "x");
    await setup.clock.advance(60_000);
    assert.equal(setup.server.count(), 0);
    assert.equal(
      setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "event-for-event" }),
      3,
    );
    // Another kind called Event in some other group is a normal object.
    r.info({ apiVersion: "example.com/v1", kind: "Event", name: "party", namespace: "ns1" }, "Planned", "x");
    await setup.clock.advance(1000);
    assert.equal(setup.server.count(), 1);
  });

  it("drops (and counts) objects without kind or name, and records objects without uid", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    r.info({ metadata: { name: "x", namespace: "n" } }, "R", "m");
    r.info({ kind: "Pod", metadata: { namespace: "n" } }, "R", "m");
    r.info({ apiVersion: "v1", kind: "Pod", name: "no-uid", namespace: "n" }, "R", "m");
    await setup.clock.advance(1000);
    assert.equal(
      setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "invalid" }),
      2,
    );
    assert.equal(setup.server.list().length, 1);
    assert.deepEqual(setup.server.list()[0].involvedObject, {
      apiVersion: "v1",
      kind: "Pod",
      name: "no-uid",
      namespace: "n",
    });
  });

  it("puts events about cluster-scoped objects in default with an empty involved namespace", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    r.info(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a", uid: "u1" } },
      "Provisioned",
      "ok",
    );
    await setup.clock.advance(1000);
    const [ev] = setup.server.list();
    assert.equal(ev.metadata.namespace, "default");
    assert.equal(ev.involvedObject.namespace, undefined);
    assert.equal(setup.server.requests[0].path, "/api/v1/namespaces/default/events");
  });

  it("sets both the old and the new fields, and the error text for exception()", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "dataflow-controller",
      instance: "pod-7",
      clock: setup.clock,
      registry: setup.registry,
    });
    r.exception(pod("x"), "", "Reconcile failed:", new RangeError("index out of range"));
    await setup.clock.advance(1000);
    const [ev] = setup.server.list();
    assert.equal(ev.type, "Warning");
    assert.equal(ev.reason, "RangeError");
    assert.equal(ev.message, "Reconcile failed: index out of range");
    assert.equal(ev.action, "RangeError");
    assert.equal(ev.count, 1);
    assert.equal(ev.source.component, "dataflow-controller");
    assert.equal(ev.reportingComponent, "dataflow-controller");
    assert.equal(ev.reportingInstance, "pod-7");
    assert.match(ev.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.match(ev.firstTimestamp, /Z$/);
    assert.equal(ev.firstTimestamp, ev.lastTimestamp);
  });

  it("stamps Events with the clock's wall time, and names them after it", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    await setup.clock.advance(2500);
    r.info(pod("x"), "Created", "made");
    await setup.clock.advance(0);
    const wall = setup.clock.wallNow();
    const [ev] = setup.server.list();
    assert.equal(ev.eventTime, wall.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"));
    assert.equal(ev.firstTimestamp, wall.toISOString().replace(/\.\d{3}Z$/, "Z"));
    assert.ok(ev.metadata.name.startsWith(`x.${wall.getTime().toString(16)}`), ev.metadata.name);
  });

  it("drops emits after close, counted, without requests", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    await r.close();
    r.warn(pod("late"), "Late", "too late");
    await setup.clock.advance(1000);
    assert.equal(setup.server.count(), 0);
    assert.equal(setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "closed" }), 1);
  });

  it("gives two replicas (different reportingInstance) two Events, never a 409", async () => {
    const setup = fakeSetup();
    const a = new EventRecorder(setup.client, {
      component: "c",
      instance: "pod-a",
      clock: setup.clock,
      registry: setup.registry,
    });
    const b = new EventRecorder(setup.client, {
      component: "c",
      instance: "pod-b",
      clock: setup.clock,
      registry: setup.registry,
    });
    for (let i = 0; i < 3; i++) {
      a.warn(pod("shared"), "Conflict", "same text");
      b.warn(pod("shared"), "Conflict", "same text");
    }
    await setup.clock.advance(1000);
    const events = setup.server.list();
    assert.deepEqual(events.map((e) => e.reportingInstance).sort(), ["pod-a", "pod-b"]);
    assert.ok(events.every((e) => e.count === 3));
    assert.ok(setup.server.requests.every((q) => q.status === 201));
  });
});
