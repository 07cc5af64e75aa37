/**
 * The finalizer helper's protocol: the finalizer is added (one conditional merge patch) before
 * `apply` runs, `cleanup` runs on deletion and the finalizer is removed only after it succeeded,
 * an object being deleted without the finalizer is left alone, and every error reaches the caller
 * as thrown.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject, PatchOptions } from "../../../lib/kube/client.ts";
import { ConflictError, errorFromResponse } from "../../../lib/kube/errors.ts";
import { builtin, type ResourceType } from "../../../lib/kube/resources.ts";
import {
  finalizer,
  type FinalizerChange,
  type FinalizerOptions,
  type FinalizerWrites,
} from "../../../lib/runtime/finalizer.ts";

const NAME = "example.com/cleanup";

/** The client's typed error for an API answer of `code`. */
const apiError = (code: number, reason: string, message: string) =>
  errorFromResponse(code, { kind: "Status", code, reason, message });
const rt = builtin.ConfigMap;

/** One patch the helper sent. */
interface Call {
  rt: ResourceType;
  name: string;
  body: { metadata: { resourceVersion?: string; finalizers: string[] } };
  opts: PatchOptions;
}

/**
 * A client that records patches and answers as the API server does to a finalizer merge patch:
 * the object with the new finalizer list at the version after the one the patch was conditional
 * on; or the error set in `fail`.
 */
class PatchSpy implements FinalizerWrites {
  calls: Call[] = [];
  fail?: Error;
  constructor(private object: KubeObject) {}
  patch<T = KubeObject>(rt: ResourceType, name: string, body: unknown, opts: PatchOptions = {}): Promise<T> {
    const call = { rt, name, body, opts } as Call;
    this.calls.push(call);
    if (this.fail) return Promise.reject(this.fail);
    const rv = Number(call.body.metadata.resourceVersion) + 1;
    this.object = {
      ...this.object,
      metadata: {
        ...this.object.metadata,
        finalizers: call.body.metadata.finalizers,
        resourceVersion: String(rv),
      },
    };
    return Promise.resolve(structuredClone(this.object) as T);
  }
}

function obj(finalizers: string[] | undefined, deleting = false, resourceVersion = "10"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "orders",
      namespace: "team-a",
      resourceVersion,
      ...(finalizers ? { finalizers } : {}),
      ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
  };
}

/** Runs the helper over `object` with handlers that record what they were given. */
function run(
  object: KubeObject,
  opts: { cleanupReturns?: KubeObject; cleanupThrows?: Error; fail?: Error; signal?: AbortSignal } = {},
) {
  const client = new PatchSpy(object);
  if (opts.fail) client.fail = opts.fail;
  const seen: string[] = [];
  const patched: [FinalizerChange, string | undefined, string | undefined][] = [];
  let applied: KubeObject | undefined, cleaned: KubeObject | undefined;
  const options: FinalizerOptions<KubeObject> = {
    client,
    resource: rt,
    name: NAME,
    fieldManager: "test-operator",
    signal: opts.signal,
    onPatch: (change, before, after) => {
      seen.push(`patched:${change}`);
      patched.push([change, before.metadata?.resourceVersion, after.metadata?.resourceVersion]);
    },
  };
  const outcome = finalizer(options, object, {
    apply: (o) => {
      seen.push("apply");
      applied = o;
      return Promise.resolve("applied" as const);
    },
    cleanup: (o) => {
      seen.push("cleanup");
      cleaned = o;
      if (opts.cleanupThrows) return Promise.reject(opts.cleanupThrows);
      return Promise.resolve(opts.cleanupReturns);
    },
  });
  return { client, seen, patched, outcome, applied: () => applied, cleaned: () => cleaned };
}

describe("finalizer: a live object", () => {
  it("adds the finalizer, keeping the others, before apply runs on the patched object", async () => {
    const t = run(obj(["other.io/keep"]));
    assert.equal(await t.outcome, "applied");
    assert.deepEqual(t.seen, ["patched:added", "apply"]);
    assert.equal(t.client.calls.length, 1);
    const [call] = t.client.calls;
    assert.equal(call.rt, rt);
    assert.equal(call.name, "orders");
    assert.deepEqual(call.body, { metadata: { resourceVersion: "10", finalizers: ["other.io/keep", NAME] } });
    assert.equal(call.opts.namespace, "team-a");
    assert.equal(call.opts.type, "merge");
    assert.equal(call.opts.fieldManager, "test-operator");
    assert.equal(t.applied()!.metadata?.resourceVersion, "11", "apply sees the object the patch returned");
    assert.deepEqual(t.patched, [["added", "10", "11"]]);
  });

  it("adds the first finalizer to an object with none", async () => {
    const t = run(obj(undefined));
    await t.outcome;
    assert.deepEqual(t.client.calls[0].body.metadata.finalizers, [NAME]);
  });

  it("only applies when the finalizer is already there", async () => {
    const object = obj([NAME]);
    const t = run(object);
    assert.equal(await t.outcome, "applied");
    assert.deepEqual(t.seen, ["apply"]);
    assert.equal(t.client.calls.length, 0);
    assert.equal(t.applied(), object);
  });

  it("does not apply when adding the finalizer fails, and passes the error on as thrown", async () => {
    const conflict = apiError(409, "Conflict", "modified");
    const t = run(obj(undefined), { fail: conflict });
    await assert.rejects(t.outcome, (err) => err === conflict && err instanceof ConflictError);
    assert.deepEqual(t.seen, []);
  });

  it("passes the abort signal to the patch", async () => {
    const signal = new AbortController().signal;
    const t = run(obj(undefined), { signal });
    await t.outcome;
    assert.equal(t.client.calls[0].opts.signal, signal);
  });
});

describe("finalizer: an object being deleted", () => {
  it("cleans up, then removes only its own finalizer, at the version cleanup returned", async () => {
    const dying = obj(["other.io/keep", NAME], true);
    const afterStatus = obj(["other.io/keep", NAME], true, "12"); // cleanup wrote a status
    const t = run(dying, { cleanupReturns: afterStatus });
    assert.equal(await t.outcome, undefined);
    assert.deepEqual(t.seen, ["cleanup", "patched:removed"]);
    assert.equal(t.cleaned(), dying);
    assert.deepEqual(t.client.calls.map((c) => c.body), [
      { metadata: { resourceVersion: "12", finalizers: ["other.io/keep"] } },
    ]);
    assert.deepEqual(t.patched, [["removed", "12", "13"]]);
  });

  it("removes the finalizer at the object's own version when cleanup wrote nothing", async () => {
    const t = run(obj([NAME], true));
    await t.outcome;
    assert.deepEqual(t.client.calls.map((c) => c.body), [{
      metadata: { resourceVersion: "10", finalizers: [] },
    }]);
  });

  it("keeps the finalizer when cleanup fails, passing the error on as thrown", async () => {
    const boom = new Error("delete failed");
    const t = run(obj([NAME], true), { cleanupThrows: boom });
    await assert.rejects(t.outcome, (err) => err === boom);
    assert.deepEqual(t.seen, ["cleanup"]);
    assert.equal(t.client.calls.length, 0);
  });

  it("takes a removal that finds the object gone as done", async () => {
    const gone = apiError(404, "NotFound", "not found");
    const t = run(obj([NAME], true), { fail: gone });
    assert.equal(await t.outcome, undefined);
    assert.deepEqual(t.seen, ["cleanup"], "no removal to report: nothing was written");
    assert.equal(t.client.calls.length, 1);
  });

  it("passes a conflicting removal on, so the reconcile is retried", async () => {
    const conflict = apiError(409, "Conflict", "modified");
    const t = run(obj([NAME], true), { fail: conflict });
    await assert.rejects(t.outcome, (err) => err === conflict);
  });

  it("leaves an object without its finalizer alone: neither cleanup nor apply", async () => {
    const t = run(obj(["other.io/keep"], true));
    assert.equal(await t.outcome, undefined);
    assert.deepEqual(t.seen, []);
    assert.equal(t.client.calls.length, 0);
  });
});
