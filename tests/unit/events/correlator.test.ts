/**
 * The correlator as a pure function of (occurrence, now): which occurrences are one series, when
 * distinct messages fold, when an idle series is forgotten, and how memory stays bounded. No
 * server, no clock, no timers (docs/behaviour/events.md, "Aggregation").
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Correlation, EventCorrelator, type Occurrence } from "../../../lib/events/correlator.ts";
import type { ObjectRef } from "../../../lib/events/reference.ts";
import { DEFAULT_SETTINGS } from "../../../lib/events/settings.ts";
import { MAX_EVENT_COUNT } from "../../../lib/events/series.ts";
import { COMBINED_PREFIX } from "../../../lib/events/similar.ts";
import type { EventFields } from "../../../lib/events/types.ts";

function correlator(over: Partial<typeof DEFAULT_SETTINGS> = {}): EventCorrelator {
  let n = 0;
  return new EventCorrelator({ ...DEFAULT_SETTINGS, ...over }, (name) => `${name}.${n++}`);
}

const ref = (name: string, namespace = "ns1"): ObjectRef => ({
  apiVersion: "v1",
  kind: "Pod",
  name,
  namespace,
  uid: `uid-${name}`,
});

const warning = (
  target: ObjectRef,
  reason: string,
  message: string,
  extra: Partial<EventFields> = {},
): Occurrence => ({
  ref: target,
  type: "Warning",
  fields: { reason, message, ...extra },
});

/** The kind and count of each correlation, for compact assertions. */
const shape = (c: Correlation) => [c.kind, c.series.count];

describe("correlate", () => {
  it("starts a series for a first occurrence and counts identical ones into it", () => {
    const c = correlator();
    const first = c.correlate(warning(ref("a"), "BackOff", "restarting"), 0);
    assert.deepEqual(shape(first), ["new", 1]);
    assert.equal(first.series.name, "a.0");
    assert.equal(first.series.namespace, "ns1");
    assert.equal(first.series.action, "BackOff", "the action defaults to the reason");
    const again = c.correlate(warning(ref("a"), "BackOff", "restarting"), 10);
    assert.deepEqual(shape(again), ["counted", 2]);
    assert.equal(again.series, first.series);
    assert.equal(again.series.lastAt, 10);
    assert.equal(c.size, 1);
  });

  it("stops counting at the largest count an Event can carry (int32), so its writes stay valid", () => {
    const c = correlator();
    const first = c.correlate(warning(ref("a"), "BackOff", "restarting"), 0);
    first.series.count = MAX_EVENT_COUNT - 1;
    assert.deepEqual(shape(c.correlate(warning(ref("a"), "BackOff", "restarting"), 1)), [
      "counted",
      MAX_EVENT_COUNT,
    ]);
    const after = c.correlate(warning(ref("a"), "BackOff", "restarting"), 2);
    assert.deepEqual(shape(after), ["counted", 2 ** 31 - 1]);
    assert.equal(after.series.lastAt, 2);
  });

  it("keeps apart what differs in object, type, reason, action, related object or message", () => {
    const c = correlator();
    const base = warning(ref("a"), "Failed", "disk full");
    const variants: Occurrence[] = [
      base,
      { ...base, ref: ref("b") },
      { ...base, type: "Normal" },
      warning(ref("a"), "Other", "disk full"),
      warning(ref("a"), "Failed", "disk full", { action: "Sync" }),
      warning(ref("a"), "Failed", "disk full", { related: { kind: "Node", name: "n1" } }),
      warning(ref("a"), "Failed", "network down"),
    ];
    assert.deepEqual(variants.map((o) => c.correlate(o, 0).kind), Array(variants.length).fill("new"));
  });

  it("ignores the object's resourceVersion, and normalizes fields before comparing", () => {
    const c = correlator();
    c.correlate(warning({ ...ref("a"), resourceVersion: "1" } as ObjectRef, "Failed to sync", "x\ny"), 0);
    const second = c.correlate(
      warning({ ...ref("a"), resourceVersion: "2" } as ObjectRef, "FailedToSync", "x y"),
      1,
    );
    assert.deepEqual(shape(second), ["counted", 2]);
    assert.equal(second.series.reason, "FailedToSync");
  });

  it("folds distinct messages beyond the tenth into one combined series, and keeps counting the first ten", () => {
    const c = correlator();
    const kinds = Array.from(
      { length: 12 },
      (_, i) => c.correlate(warning(ref("a"), "Sync", `attempt ${i}`), i).kind,
    );
    assert.deepEqual(kinds, [...Array(11).fill("new"), "counted"]);
    const combined = c.correlate(warning(ref("a"), "Sync", "attempt 12"), 12).series;
    assert.equal(combined.combined, true);
    assert.equal(combined.count, 3);
    assert.equal(combined.message, `${COMBINED_PREFIX}attempt 12`);
    assert.deepEqual(shape(c.correlate(warning(ref("a"), "Sync", "attempt 3"), 13)), ["counted", 2]);
  });

  it("forgets a series idle for the window unless it still has a write to do", () => {
    const c = correlator({ dedupWindowMs: 1000 });
    const first = c.correlate(warning(ref("a"), "R", "m"), 0).series;
    assert.equal(c.correlate(warning(ref("a"), "R", "m"), 999).kind, "counted");
    assert.equal(c.correlate(warning(ref("a"), "R", "m"), 1999).kind, "new", "idle for the whole window");
    const pending = c.correlate(warning(ref("b"), "R", "m"), 0).series;
    pending.pending = true;
    assert.equal(
      c.correlate(warning(ref("b"), "R", "m"), 5000).kind,
      "counted",
      "its count is still to be written",
    );
    assert.notEqual(first, c.correlate(warning(ref("a"), "R", "m"), 2000).series);
  });

  it("remembers at most maxSeries series, least recently used out first, flagging those with a write to do", () => {
    const c = correlator({ maxSeries: 2 });
    const a = c.correlate(warning(ref("a"), "R", "m"), 0).series;
    const b = c.correlate(warning(ref("b"), "R", "m"), 1).series;
    a.pending = true;
    c.correlate(warning(ref("a"), "R", "m"), 2); // a is now the most recently used
    c.correlate(warning(ref("c"), "R", "m"), 3);
    assert.equal(c.size, 2);
    assert.equal(b.evicted, false, "b had nothing to write: simply forgotten");
    assert.equal(c.correlate(warning(ref("b"), "R", "m"), 4).kind, "new");
    assert.equal(a.evicted, true, "a was evicted with a count still to write: the writer flushes it first");
  });

  it("starts a new series after forget()", () => {
    const c = correlator();
    const s = c.correlate(warning(ref("a"), "R", "m"), 0).series;
    c.forget(s);
    assert.equal(c.size, 0);
    assert.equal(c.correlate(warning(ref("a"), "R", "m"), 1).kind, "new");
  });

  it("puts cluster-scoped objects in the cluster namespace, and reports an unusable related object", () => {
    const c = correlator({ clusterNamespace: "kube-system" });
    const out = c.correlate(
      warning({ apiVersion: "v1", kind: "Node", name: "node-1" }, "Ready", "ok", {
        related: { kind: "Pod" },
      }),
      0,
    );
    assert.equal(out.series.namespace, "kube-system");
    assert.equal(out.series.related, undefined);
    assert.equal(out.relatedProblem, "no-name");
  });

  it("tracks the oldest occurrence the server lacks, for the delivery lag", () => {
    const c = correlator();
    const s = c.correlate(warning(ref("a"), "R", "m"), 0).series;
    s.serverCount = 1; // the create was written
    c.correlate(warning(ref("a"), "R", "m"), 40);
    c.correlate(warning(ref("a"), "R", "m"), 70);
    assert.equal(s.pendingSince, 40);
  });
});
