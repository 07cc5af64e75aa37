/** LOG_LEVEL=debug shows each emission and its outcome; the metrics obey emitted = new + coalesced + dropped. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { fakeSetup, pod } from "./fakes.ts";

const lines: Record<string, unknown>[] = [];
before(() => configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) }));
after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("observability", () => {
  it("logs every emission as 'Emitted Kubernetes event' with object, type, reason, message and outcome", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    lines.length = 0;
    r.event(pod("web"), { type: "Error", reason: "Crashed", message: "exit 1" });
    r.event(pod("web"), { type: "Error", reason: "Crashed", message: "exit 1" });
    r.info({ apiVersion: "v1", kind: "Event", name: "e", namespace: "ns1" }, "Loop", "x");
    await setup.clock.advance(0);
    const emitted = lines.filter((l) => String(l.message).startsWith("Emitted Kubernetes event"));
    assert.equal(emitted.length, 3);
    assert.equal(emitted[0].object, "Pod ns1/web");
    assert.equal(emitted[0].type, "Warning");
    assert.equal(emitted[0].reason, "Crashed");
    assert.equal(emitted[0].eventMessage, "exit 1");
    assert.equal(
      emitted[0].message,
      "Emitted Kubernetes event Warning Crashed on Pod ns1/web: exit 1 (written)",
    );
    assert.deepEqual(emitted.map((l) => l.outcome), ["written", "coalesced", "dropped"]);
    assert.equal(emitted[2].dropReason, "event-for-event");
    // Every API write is visible too: the client's line and the recorder's own.
    assert.ok(
      lines.some((l) => /^API write POST \/api\/v1\/namespaces\/ns1\/events /.test(String(l.message))),
    );
    assert.ok(lines.some((l) => String(l.message).startsWith("Wrote Kubernetes event") && l.count === 2));
  });

  it("exposes emitted, written, coalesced, dropped, API errors and queue depth", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    for (let i = 0; i < 5; i++) r.warn(pod("a"), "R", "x");
    r.info(pod("b"), "R", "y");
    r.info({ kind: "Event", name: "e" }, "R", "z");
    assert.equal(setup.registry.gauge("events_queue_depth", "").get(), 2);
    await setup.clock.advance(31_000);
    const text = setup.registry.render();
    assert.match(text, /events_emitted_total\{type="Warning"\} 5/);
    assert.match(text, /events_emitted_total\{type="Normal"\} 2/);
    assert.match(text, /events_coalesced_total 4/);
    assert.match(text, /events_dropped_total\{reason="event-for-event"\} 1/);
    assert.match(text, /events_written_total\{verb="create"\} 2/);
    assert.match(text, /events_queue_depth 0/);
    assert.equal(setup.server.list().find((e) => e.involvedObject.name === "a")!.count, 5);
  });

  it("summarises drops the caller cannot see at warning level, at most once a minute", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    lines.length = 0;
    for (let i = 0; i < 5; i++) r.info({ metadata: { name: "kindless" } }, "R", "m");
    const warnings = () => lines.filter((l) => l.level === "WARN");
    assert.equal(warnings().length, 1, "the first drop is summarised at once");
    await setup.clock.advance(59_000);
    assert.equal(warnings().length, 1, "no second line within the minute");
    await setup.clock.advance(2_000);
    assert.equal(warnings().length, 2, "the four later drops are summarised when the minute is over");
    assert.equal(warnings()[1].count, 4);
    r.info({ metadata: { name: "kindless" } }, "R", "m");
    await setup.clock.advance(60_000);
    assert.equal(warnings().length, 3);
    assert.equal(warnings()[2].count, 1);
    await setup.clock.advance(600_000);
    assert.equal(warnings().length, 3, "nothing more to say, nothing said");
  });

  it("summarises drops not yet reported when it is closed", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    lines.length = 0;
    for (let i = 0; i < 3; i++) r.info({ metadata: { name: "kindless" } }, "R", "m");
    await r.close();
    const warnings = lines.filter((l) => l.level === "WARN");
    assert.deepEqual(warnings.map((w) => w.count), [1, 2]);
  });
});
