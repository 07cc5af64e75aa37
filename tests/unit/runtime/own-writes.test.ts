/**
 * The read-your-own-writes overlay: while the cache still shows a version the operator's own
 * write replaced, a read answers with what the write returned; any other read ends the entry.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../../../lib/kube/client.ts";
import { OwnWrites } from "../../../lib/runtime/own-writes.ts";

const KEY = "team-a/orders";

/** A ConfigMap-like object at a resourceVersion. */
function at(resourceVersion: string, data: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Thing",
    metadata: { name: "orders", namespace: "team-a", resourceVersion },
    data,
  };
}

describe("OwnWrites", () => {
  it("passes the cache's copy through for a key without own writes", () => {
    const own = new OwnWrites();
    const cached = at("5");
    assert.equal(own.read(KEY, cached), cached);
    assert.equal(own.read(KEY, undefined), undefined);
    assert.equal(own.size, 0);
  });

  it("answers a read of the replaced version with what the write returned, until the cache catches up", () => {
    const own = new OwnWrites();
    const before = at("5");
    const after = at("6", { written: "yes" });
    own.record(KEY, before, after);
    assert.equal(own.read(KEY, at("5")), after, "stale cache: the write's result");
    assert.equal(own.read(KEY, at("5")), after, "still stale: still the write's result");
    const caughtUp = at("6", { written: "yes" });
    assert.equal(own.read(KEY, caughtUp), caughtUp, "the cache shows the write: it is the truth again");
    assert.equal(own.size, 0);
    const older = at("5");
    assert.equal(own.read(KEY, older), older, "the entry is gone: nothing overrides the cache any more");
  });

  it("answers every version its writes replaced with the last write's result", () => {
    const own = new OwnWrites();
    own.record(KEY, at("5"), at("6"));
    const last = at("7", { status: "set" });
    own.record(KEY, at("6"), last);
    assert.equal(own.read(KEY, at("5")), last);
    assert.equal(own.read(KEY, at("6")), last);
    assert.equal(own.size, 1);
  });

  it("ends the entry when someone else wrote, or the object is gone", () => {
    const own = new OwnWrites();
    own.record(KEY, at("5"), at("6"));
    const foreign = at("9", { by: "someone else" });
    assert.equal(own.read(KEY, foreign), foreign);
    assert.equal(own.size, 0);

    own.record(KEY, at("9"), at("10"));
    assert.equal(own.read(KEY, undefined), undefined, "a deleted object is not resurrected");
    assert.equal(own.size, 0);
  });

  it("keeps entries per key", () => {
    const own = new OwnWrites();
    const a = at("6");
    own.record("team-a/a", at("5"), a);
    own.record("team-a/b", at("7"), at("8"));
    assert.equal(own.read("team-a/b", at("8"))?.metadata?.resourceVersion, "8");
    assert.equal(own.read("team-a/a", at("5")), a);
    assert.equal(own.size, 1);
  });

  it("keeps only what `retain` returns of a written object", () => {
    const own = new OwnWrites<KubeObject>({ retain: (obj) => ({ ...obj, data: undefined }) });
    own.record(KEY, at("5"), at("6", { large: "x".repeat(1000) }));
    const read = own.read(KEY, at("5"))!;
    assert.equal(read.metadata?.resourceVersion, "6");
    assert.equal(read.data, undefined);
  });

  it("records nothing as replaced for an object read without a resourceVersion", () => {
    const own = new OwnWrites();
    const noVersion: KubeObject = { metadata: { name: "orders", namespace: "team-a" } };
    own.record(KEY, noVersion, at("6"));
    assert.equal(
      own.read(KEY, noVersion),
      noVersion,
      "a copy without a version is never taken for a stale one",
    );
  });
});
