/** Retries, non-retryable failures, RBAC errors logged once per namespace, and no head-of-line blocking. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { ConnectionError, ResponseBodyError, ServerError } from "../../../lib/kube/errors.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { fakeSetup, pod, statusResponse } from "./fakes.ts";

const lines: string[] = [];
before(() => configureLogging({ level: "debug", format: "json", write: (l) => lines.push(l) }));
after(() => configureLogging({ level: "fatal", write: () => {} }));

function make(setup: ReturnType<typeof fakeSetup>, extra: Record<string, unknown> = {}) {
  return new EventRecorder(setup.client, {
    component: "c",
    clock: setup.clock,
    registry: setup.registry,
    random: () => 0.5,
    ...extra,
  });
}
const dropped = (setup: ReturnType<typeof fakeSetup>, reason: string) =>
  setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason });
const apiErrors = (setup: ReturnType<typeof fakeSetup>, code: string) =>
  setup.registry.counter("events_api_errors_total", "", ["code"]).get({ code });

describe("failures", () => {
  it("retries 503 with backoff and honours Retry-After, then writes the whole count", async () => {
    const setup = fakeSetup();
    let failures = 3;
    setup.server.fault = () =>
      failures-- > 0
        ? statusResponse(503, "ServiceUnavailable", "busy", { headers: { "retry-after": "7" } })
        : undefined;
    const r = make(setup);
    r.warn(pod("a"), "Flaky", "x");
    await setup.clock.advance(0);
    assert.equal(setup.server.count(), 1);
    r.warn(pod("a"), "Flaky", "x");
    await setup.clock.advance(6_900);
    assert.equal(setup.server.count(), 1, "waits the 7 s the server asked for");
    await setup.clock.advance(30_000);
    assert.equal(setup.server.count(), 4);
    assert.equal(setup.server.list()[0].count, 2, "the retried create carries both occurrences");
    assert.equal(apiErrors(setup, "503"), 3);
  });

  it("does not hold up other namespaces while one is in backoff", async () => {
    const setup = fakeSetup();
    setup.server.fault = (req) =>
      req.path.includes("/namespaces/sick/") ? statusResponse(503, "ServiceUnavailable", "down") : undefined;
    const r = make(setup);
    r.warn(pod("a", "sick"), "Failing", "x");
    await setup.clock.advance(0);
    for (let i = 0; i < 100; i++) r.info(pod(`p${i}`, `ns${i}`), "Ok", "fine");
    await setup.clock.advance(2000);
    assert.equal(setup.server.list().length, 100);
  });

  it("gives up after the retry budget and counts the loss", async () => {
    const setup = fakeSetup();
    setup.server.fault = () => statusResponse(500, "InternalError", "broken");
    const r = make(setup, { retryTotalMs: 60_000 });
    r.warn(pod("a"), "Doomed", "x");
    r.warn(pod("a"), "Doomed", "x");
    await setup.clock.advance(120_000);
    assert.equal(dropped(setup, "retry_exhausted"), 2);
    assert.equal(r.queueDepth, 0);
    const calls = setup.server.count();
    await setup.clock.advance(600_000);
    assert.equal(setup.server.count(), calls, "no more calls after giving up");
  });

  it("does not retry 403, logs one clear error per namespace, and leaves the caller unharmed", async () => {
    const setup = fakeSetup();
    setup.server.fault = (req) =>
      statusResponse(
        403,
        "Forbidden",
        `events is forbidden: User "op" cannot create resource "events" in API group "" in the namespace "${
          req.path.split("/")[4]
        }"`,
      );
    const r = make(setup);
    lines.length = 0;
    for (let i = 0; i < 50; i++) {
      r.warn(pod(`a${i}`, "one"), "R", "x");
      r.warn(pod(`b${i}`, "two"), "R", "x");
    }
    await setup.clock.advance(60_000);
    assert.equal(setup.server.count(), 100, "one attempt per series, no retries");
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "ERROR");
    assert.equal(errors.length, 2, errors.map((e) => e.message).join("\n"));
    assert.deepEqual(errors.map((e) => e.namespace).sort(), ["one", "two"]);
    assert.match(errors[0].message, /Grant create and patch on events/);
    assert.equal(dropped(setup, "forbidden"), 100);
  });

  it("drops namespace-terminating 403s quietly", async () => {
    const setup = fakeSetup();
    setup.server.fault = () =>
      statusResponse(
        403,
        "Forbidden",
        "unable to create new content in namespace x because it is being terminated",
        {
          causes: [{ reason: "NamespaceTerminating", field: "metadata.namespace" }],
        },
      );
    const r = make(setup);
    lines.length = 0;
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(60_000);
    assert.equal(setup.server.count(), 1);
    assert.equal(dropped(setup, "namespace_terminating"), 1);
    assert.equal(lines.filter((l) => /"level":"(ERROR|WARN)"/.test(l)).length, 0);
  });

  it("does not retry 422 and logs the field causes", async () => {
    const setup = fakeSetup();
    setup.server.fault = () =>
      statusResponse(422, "Invalid", "Event is invalid", {
        causes: [{ field: "reason", message: "too long" }],
      });
    const r = make(setup);
    lines.length = 0;
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(60_000);
    assert.equal(setup.server.count(), 1);
    assert.equal(dropped(setup, "rejected"), 1);
    assert.ok(lines.some((l) => l.includes("reason: too long")));
  });

  it("adopts its own create that went through without an answer instead of duplicating it", async () => {
    const setup = fakeSetup();
    // The server stores the Event, but the connection drops before the answer arrives.
    const r = make(setup);
    const original = setup.server.request.bind(setup.server);
    let dropOnce = true;
    setup.server.request = async (req) => {
      const res = await original(req);
      if (dropOnce && req.method === "POST") {
        dropOnce = false;
        // HttpTransport reports a lost connection as a ConnectionError.
        throw new ConnectionError("POST: connection reset by peer", { code: 0 });
      }
      return res;
    };
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(0);
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(120_000);
    const events = setup.server.list();
    assert.equal(events.length, 1, "no duplicate Event");
    assert.equal(events[0].count, 2);
    assert.equal(setup.server.count("POST"), 2, "the create was retried with the same name");
    assert.equal(setup.server.count("PATCH"), 1, "then the count was set");
  });

  for (
    const [what, lost] of [
      [
        "its answer broke off",
        () => new ResponseBodyError("POST: the response body broke off", { code: 201 }),
      ],
      ["it got a 504", () => new ServerError("POST: timeout", { code: 504, reason: "Timeout" })],
    ] as const
  ) {
    it(`adopts its own create that went through although ${what}, and retries instead of dropping`, async () => {
      const setup = fakeSetup();
      const r = make(setup);
      const original = setup.server.request.bind(setup.server);
      let failOnce = true;
      setup.server.request = async (req) => {
        const res = await original(req);
        if (failOnce && req.method === "POST") {
          failOnce = false;
          throw lost(); // the server stored the Event; what came back says nothing certain
        }
        return res;
      };
      lines.length = 0;
      r.warn(pod("a"), "R", "x");
      await setup.clock.advance(0);
      r.warn(pod("a"), "R", "x");
      await setup.clock.advance(120_000);
      const events = setup.server.list();
      assert.equal(events.length, 1, "no duplicate Event");
      assert.equal(events[0].count, 2);
      assert.equal(dropped(setup, "rejected"), 0);
      assert.equal(lines.filter((l) => /"level":"ERROR"/.test(l)).length, 0, "nothing was refused");
    });
  }

  it("picks a new name when another writer took the name", async () => {
    const setup = fakeSetup();
    let collide = true;
    setup.server.fault = (req) => {
      if (req.method === "POST" && collide) {
        collide = false;
        return statusResponse(409, "AlreadyExists", "events already exists");
      }
      return undefined;
    };
    const r = make(setup);
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(1000);
    assert.equal(setup.server.list().length, 1);
    const posts = setup.server.requests.filter((q) => q.method === "POST");
    assert.equal(posts.length, 2);
    assert.notEqual(
      (posts[0].body!.metadata as { name: string }).name,
      (posts[1].body!.metadata as { name: string }).name,
    );
  });

  it("backs off exponentially with full jitter up to the cap", async () => {
    const setup = fakeSetup();
    setup.server.fault = () => statusResponse(503, "ServiceUnavailable", "down");
    // random() = 1 gives the upper edge of every jittered wait: 500, 1000, 2000, ... capped at 4000.
    const r = make(setup, { random: () => 0.999999, retryMaxDelayMs: 4000 });
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(20_000);
    const times = setup.server.requests.map((q) => q.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.deepEqual(gaps.slice(0, 6).map((g) => Math.round(g / 100) * 100), [
      500,
      1000,
      2000,
      4000,
      4000,
      4000,
    ]);
  });
});
