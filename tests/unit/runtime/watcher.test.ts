/**
 * The watcher's list/watch protocol against the in-memory API server on a fake clock: the steps
 * it yields and the requests it sends (docs/behaviour/informer.md, "Listing", "Watching" and
 * "Failures and backoff").
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeClientOptions, type KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { Watcher } from "../../../lib/runtime/watcher.ts";
import type { WatcherOptions, WatcherStep } from "../../../lib/runtime/watcher-options.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";

const CM = "v1/configmaps";
const cm = (name: string, ns = "ns"): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns },
});

function show(step: WatcherStep<KubeObject>): string {
  if (step.type === "init") return "init";
  if (step.type === "initDone") return `initDone ${step.resourceVersion}`;
  return `${step.type} ${step.object.metadata?.name}`;
}

let stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops) s.abort();
  stops = [];
});

function setup(options: WatcherOptions = {}, clientOptions: KubeClientOptions = {}) {
  const api = new FakeApiServer();
  const clock = new FakeClock();
  /** When each request was sent, in fake time (same order as `api.requests`). */
  const sentAt: number[] = [];
  const transport: Transport = {
    server: api.server,
    request: (req: KubeRequest) => {
      sentAt.push(clock.now());
      return api.request(req);
    },
    close: () => api.close(),
  };
  const client = new KubeClient(transport, {
    sleep: () => Promise.resolve(),
    registry: new Registry(),
    ...clientOptions,
  });
  const watcher = new Watcher(client, builtin.ConfigMap, { clock, ...options });
  const steps: string[] = [];
  const stop = new AbortController();
  stops.push(stop);
  /** Starts following the watcher's steps; resolves when the watcher stops. */
  const run = async () => {
    for await (const step of watcher.steps(stop.signal)) steps.push(show(step));
  };
  /** Advances fake time, from timer to timer, until `cond` holds (fails after `maxMs` of fake time). */
  const until = async (cond: () => boolean, what: string, maxMs = 600_000) => {
    const end = clock.now() + maxMs;
    while (!cond() && clock.now() < end) {
      const next = clock.nextTimerAt();
      await clock.advance(
        Math.max(1, Math.min((next ?? clock.now() + 50) - clock.now(), end - clock.now(), 5_000)),
      );
    }
    assert.ok(cond(), `waited for ${what}; steps: ${steps.join(", ")}`);
  };
  const requests = (verb: string) => api.requests.filter((r) => r.verb === verb);
  /** The fake times at which requests of `verb` were sent. */
  const times = (verb: string) => sentAt.filter((_, i) => api.requests[i].verb === verb);
  return { api, clock, watcher, steps, stop, run, until, requests, times };
}

describe("watcher: listing", () => {
  it("lists in pages without a resourceVersion, yields init, an initApply per object and initDone, then watches from the list's version", async () => {
    const { api, watcher, steps, run, until, requests } = setup({ pageSize: 2 });
    for (const n of ["a", "b", "c", "d", "e"]) api.put(CM, cm(n));
    api.put("v1/secrets", { metadata: { name: "s", namespace: "ns" } }); // the list's version is past the last item's
    const rv = api.resourceVersion;
    void run();
    await until(() => requests("WATCH").length === 1, "the watch");
    assert.deepEqual(steps, [
      "init",
      "initApply a",
      "initApply b",
      "initApply c",
      "initApply d",
      "initApply e",
      `initDone ${rv}`,
    ]);
    const lists = requests("LIST");
    assert.equal(lists.length, 3);
    assert.ok(lists.every((r) => r.query?.get("limit") === "2"));
    assert.equal(lists[0].query?.get("resourceVersion"), null, "a consistent read of the latest state");
    assert.equal(lists[0].query?.get("continue"), null);
    assert.ok(lists[1].query?.get("continue"));
    const w = requests("WATCH")[0].query!;
    assert.equal(w.get("resourceVersion"), rv);
    assert.equal(w.get("allowWatchBookmarks"), "true");
    const timeout = Number(w.get("timeoutSeconds"));
    assert.ok(timeout >= 240 && timeout < 290, `timeoutSeconds ${timeout}`);
    assert.equal(watcher.resourceVersion, rv);
    assert.equal(watcher.stats.lists, 3);
  });

  it("restarts a paged list whose continue token expired with a new init, so snapshots never mix", async () => {
    const { api, steps, run, until, requests } = setup({ pageSize: 2 });
    for (const n of ["a", "b", "c"]) api.put(CM, cm(n));
    api.expireContinueTokens(1);
    void run();
    await until(() => steps.some((s) => s.startsWith("initDone")), "the list");
    assert.deepEqual(steps.slice(0, -1), [
      "init",
      "initApply a",
      "initApply b",
      "init",
      "initApply a",
      "initApply b",
      "initApply c",
    ]);
    assert.equal(requests("LIST").length, 4, "page 1, the expired page 2, then two pages again");
    assert.equal(requests("LIST")[2].query?.get("continue"), null, "the restart begins without a token");
  });
});

describe("watcher: watching", () => {
  it("yields apply for added and modified objects and delete for deleted ones; a bookmark yields nothing and moves the version", async () => {
    const { api, watcher, steps, run, until } = setup();
    void run();
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("a"));
    api.put(CM, { ...cm("a"), data: { v: "2" } });
    api.remove(CM, "ns", "a");
    await until(() => steps.length === 5, "three steps after the list");
    assert.deepEqual(steps.slice(2), ["apply a", "apply a", "delete a"]);
    api.put("v1/secrets", { metadata: { name: "s", namespace: "ns" } }); // not watched: only the bookmark tells
    api.bookmark();
    await until(() => watcher.resourceVersion === api.resourceVersion, "the bookmark's version");
    assert.equal(steps.length, 5);
  });

  it("resumes from the last bookmark after the server closes the watch, without a relist", async () => {
    const { api, clock, watcher, steps, run, until, requests } = setup();
    void run();
    await until(() => api.openWatches === 1, "the watch");
    api.put("v1/secrets", { metadata: { name: "s", namespace: "ns" } });
    api.bookmark();
    await until(() => watcher.resourceVersion === api.resourceVersion, "the bookmark");
    await clock.advance(2_000); // open a while: not a very short watch
    api.closeWatches();
    await until(() => requests("WATCH").length === 2, "the re-watch");
    assert.equal(requests("WATCH")[1].query?.get("resourceVersion"), api.resourceVersion);
    assert.equal(requests("LIST").length, 1);
    assert.deepEqual(steps, ["init", `initDone ${requests("WATCH")[0].query?.get("resourceVersion")}`]);
    assert.equal(watcher.stats.failures, 0);
  });

  it("relists on 410 Gone, not older than the last version, with init, initApply and initDone again", async () => {
    const { api, watcher, steps, run, until, requests } = setup();
    api.put(CM, cm("a"));
    void run();
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("b"));
    await until(() => steps.includes("apply b"), "b");
    const rv = watcher.resourceVersion;
    api.errorWatches(410, "Expired");
    await until(() => requests("WATCH").length === 2, "relist and re-watch");
    const relist = requests("LIST")[1].query!;
    assert.equal(relist.get("resourceVersion"), rv);
    assert.equal(relist.get("resourceVersionMatch"), "NotOlderThan");
    assert.equal(relist.get("limit"), null, "unpaginated: served by the watch cache");
    assert.deepEqual(steps.slice(-4), [
      "init",
      "initApply a",
      "initApply b",
      `initDone ${api.resourceVersion}`,
    ]);
    assert.equal(watcher.stats.expired, 1);
    assert.equal(watcher.stats.failures, 0, "a relist at once, not a backed-off failure");
  });

  it("abandons a silent watch after the idle timeout and re-watches from the last version, without a relist", async () => {
    const { api, watcher, run, until, requests, times } = setup({ idleTimeoutMs: 70_000 });
    api.put(CM, cm("a"));
    void run();
    await until(() => api.openWatches === 1, "the watch");
    api.stallWatches();
    await until(() => requests("WATCH").length === 2, "the re-watch");
    const [first, second] = times("WATCH");
    assert.equal(second - first, 70_000);
    assert.equal(requests("WATCH")[1].query?.get("resourceVersion"), watcher.resourceVersion);
    assert.equal(requests("LIST").length, 1, "no relist");
    assert.equal(watcher.stats.failures, 0);
  });

  it("abandons a watch request that never gets headers after the idle timeout", async () => {
    const { api, run, until, requests, times } = setup({ idleTimeoutMs: 30_000 });
    let hang = true;
    api.intercept = (r) => {
      if (r.verb !== "WATCH" || !hang) return undefined;
      hang = false;
      return new Promise((_, reject) => r.signal?.addEventListener("abort", () => reject(r.signal!.reason)));
    };
    void run();
    await until(() => requests("WATCH").length === 2, "the second watch");
    const [first, second] = times("WATCH");
    assert.equal(second - first, 30_000);
  });
});

describe("watcher: streaming list", () => {
  it("streams the initial state with sendInitialEvents and carries on on the same stream", async () => {
    const { api, steps, run, until, requests } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    api.put(CM, cm("b"));
    void run();
    await until(() => steps.length === 4, "the initial state");
    assert.deepEqual(steps, ["init", "initApply a", "initApply b", `initDone ${api.resourceVersion}`]);
    const q = requests("WATCH")[0].query!;
    assert.equal(q.get("sendInitialEvents"), "true");
    assert.equal(q.get("resourceVersionMatch"), "NotOlderThan");
    api.put(CM, cm("c"));
    await until(() => steps.length === 5, "c");
    assert.equal(steps[4], "apply c");
    assert.equal(requests("LIST").length, 0);
    assert.equal(requests("WATCH").length, 1);
  });

  it("falls back to paged lists for good when the server refuses a streaming list", async () => {
    const { api, steps, run, until, requests } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    api.intercept = (r) =>
      r.verb === "WATCH" && r.query?.get("sendInitialEvents")
        ? statusResponse(422, "Invalid", "sendInitialEvents is not supported")
        : undefined;
    void run();
    await until(() => api.openWatches === 1, "the plain watch");
    assert.equal(requests("LIST").length, 1);
    assert.deepEqual(steps.slice(-2), ["initApply a", `initDone ${api.resourceVersion}`]);
  });
});

describe("watcher: a failed streaming list", () => {
  it("lists with LIST once after a streaming list ended in an error event, and streams the next relist again", async () => {
    const { api, steps, run, until, requests } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    let failed = false;
    api.intercept = (r) => {
      if (failed || r.verb !== "WATCH" || !r.query?.get("sendInitialEvents")) return undefined;
      failed = true;
      const status = {
        kind: "Status",
        status: "Failure",
        code: 500,
        reason: "InternalError",
        message: "boom",
      };
      return new Response(`${JSON.stringify({ type: "ERROR", object: status })}\n`, { status: 200 });
    };
    void run();
    await until(() => api.openWatches === 1 && requests("LIST").length === 1, "the LIST and its watch");
    assert.deepEqual(steps.slice(-2), ["initApply a", `initDone ${api.resourceVersion}`]);
    api.errorWatches(); // 410: the state is gone, relist
    await until(
      () => requests("WATCH").filter((r) => r.query?.get("sendInitialEvents")).length === 2,
      "a streaming relist",
    );
    await until(() => api.openWatches === 1, "the stream open");
    assert.equal(requests("LIST").length, 1, "the LIST was for the failed attempt only");
  });
});

describe("watcher: failures", () => {
  it("after a 5xx re-watches from the same version; after any other error (403) relists", async () => {
    const { api, run, until, requests } = setup({ backoff: { jitter: 0 } });
    const answers = [
      statusResponse(503, "ServiceUnavailable", "down"),
      statusResponse(403, "Forbidden", "no"),
    ];
    api.intercept = (r) => (r.verb === "WATCH" && requests("WATCH").length > 1 ? answers.shift() : undefined);
    void run();
    await until(() => api.openWatches === 1, "the first watch");
    const rv = requests("WATCH")[0].query?.get("resourceVersion");
    api.closeWatches();
    await until(() => answers.length === 0, "the 503 and the 403");
    await until(() => api.openWatches === 1, "a watch again");
    assert.deepEqual(requests("WATCH").slice(1, 3).map((r) => r.query?.get("resourceVersion")), [rv, rv]);
    assert.equal(requests("LIST").length, 2, "the 503 kept the state, the 403 forced a relist");
  });

  it("a streaming relist at a version the server no longer has streams the latest state instead", async () => {
    const { api, steps, run, until, requests } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    void run();
    await until(() => api.openWatches === 1, "the streaming list");
    const seen = api.resourceVersion;
    api.stallWatches(); // b is never seen, and the history before it goes
    api.put(CM, cm("b"));
    api.compact();
    api.closeWatches();
    await until(() => steps.filter((s) => s.startsWith("initDone")).length === 2, "the second initDone");
    const streams = requests("WATCH").filter((r) => r.query?.get("sendInitialEvents") === "true");
    assert.deepEqual(
      streams.map((r) => r.query?.get("resourceVersion") ?? ""),
      ["", seen, ""],
      "the first list, the relist not older than what was seen (410), then the latest state",
    );
    assert.deepEqual(steps.slice(-3), ["initApply a", "initApply b", `initDone ${api.resourceVersion}`]);
    assert.equal(requests("LIST").length, 0);
  });
});

describe("watcher: backoff", () => {
  it("backs off very short watches 800 ms doubling to 30 s, and starts over after two minutes without failures", async () => {
    const { api, clock, run, until, requests } = setup({ backoff: { jitter: 0 } });
    const at: number[] = [];
    let failing = true;
    api.intercept = (r) => {
      if (r.verb !== "WATCH") return undefined;
      at.push(clock.now());
      // Accepted, then closed at once with nothing: a very short watch.
      return failing
        ? new Response("", { status: 200, headers: { "content-type": "application/json" } })
        : undefined;
    };
    void run();
    await until(() => at.length >= 10, "ten watch attempts");
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    assert.deepEqual(gaps, [800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]);
    assert.equal(requests("LIST").length, 1, "a very short watch keeps the state: re-watched, not relisted");
    failing = false;
    await until(() => api.openWatches === 1, "a healthy watch");
    await clock.advance(130_000);
    failing = true;
    const n = at.length;
    api.closeWatches(); // open for 130 s: a normal close, re-watched at once
    await until(() => at.length >= n + 3, "three attempts after the reset");
    const after = at.slice(n).map((t, i, a) => (i ? t - a[i - 1] : 0));
    assert.deepEqual(after, [0, 800, 1_600], "the backoff started over");
  });

  it("spreads the delays over [d, 2d) with jitter", async () => {
    let r = 0;
    const randoms = [0, 0.5, 0.999];
    const { api, clock, run, until } = setup({ backoff: { random: () => randoms[r++ % 3] } });
    const at: number[] = [];
    api.intercept = (req) => {
      if (req.verb !== "WATCH") return undefined;
      at.push(clock.now());
      return new Response("", { status: 200 });
    };
    void run();
    await until(() => at.length >= 4, "four attempts");
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    assert.deepEqual(gaps.map(Math.round), [800, 2_400, 6_397]);
  });

  it("waits as long as a 429's Retry-After asks, longer than the backoff", async () => {
    const { api, run, until, requests, times } = setup({ backoff: { jitter: 0 } }, {
      retry: { maxRetries: 0 },
    });
    let throttled = 1;
    api.intercept = (r) =>
      r.verb === "WATCH" && throttled-- > 0
        ? statusResponse(429, "TooManyRequests", "slow down", { "Retry-After": "7" })
        : undefined;
    void run();
    await until(() => requests("WATCH").length === 2, "the second watch");
    const [first, second] = times("WATCH");
    assert.equal(second - first, 7_000);
    assert.equal(requests("LIST").length, 1, "a 429 keeps the state: no relist");
  });

  it("stops at once when its signal aborts, ending the open watch", async () => {
    const { api, stop, run, until } = setup();
    const done = run();
    await until(() => api.openWatches === 1, "the watch");
    stop.abort();
    await done;
    assert.equal(api.openWatches, 0);
  });

  it("sends no watch when its signal aborted while the consumer handled the list's initDone", async () => {
    const { api, watcher, stop, requests } = setup();
    api.put(CM, cm("a"));
    const seen: string[] = [];
    for await (const step of watcher.steps(stop.signal)) {
      seen.push(show(step));
      if (step.type === "initDone") stop.abort(); // e.g. the informer was stopped by a handler
    }
    assert.deepEqual(seen, ["init", "initApply a", `initDone ${api.resourceVersion}`]);
    assert.equal(requests("WATCH").length, 0, "no watch after the abort");
    assert.equal(api.openWatches, 0);
  });
});
