/**
 * The recorder's options: defaults where unset, and a TypeError naming the option for a number that
 * cannot work, at construction rather than as a recorder that silently writes nothing.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { DEFAULT_SETTINGS, resolveSettings } from "../../../lib/events/settings.ts";
import { fakeSetup } from "./fakes.ts";

describe("recorder settings", () => {
  it("takes the defaults for what is unset and keeps what is set", () => {
    const s = resolveSettings({ component: "op", maxQueue: 50, objectBudget: { burst: 5, refillMs: 1000 } });
    assert.equal(s.maxQueue, 50);
    assert.deepEqual(s.objectBudget, { burst: 5, refillMs: 1000 });
    assert.equal(s.maxSeries, DEFAULT_SETTINGS.maxSeries);
    assert.equal(s.retryTotalMs, DEFAULT_SETTINGS.retryTotalMs);
  });

  it("refuses a number out of its range, naming the option", () => {
    const { client } = fakeSetup();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxQueue: 0 }, /maxQueue is 0; it must be a whole number of at least 1/],
      [{ maxSeries: 2.5 }, /maxSeries is 2.5/],
      [{ objectBudget: { burst: 0, refillMs: 1000 } }, /objectBudget.burst is 0/],
      [{ objectBudget: { burst: 5, refillMs: Number.NaN } }, /objectBudget.refillMs is NaN/],
      [{ requestTimeoutMs: -1 }, /requestTimeoutMs is -1; it must be a number of at least 1/],
      [
        { retryBaseMs: 1000, retryMaxDelayMs: 10 },
        /retryMaxDelayMs is 10; it must be a number of at least 1000/,
      ],
      [{ maxDistinctMessages: "3" }, /maxDistinctMessages is "3"/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => new EventRecorder(client, { component: "op", ...options }), (err: unknown) => {
        assert.ok(err instanceof TypeError, `${JSON.stringify(options)}: ${err}`);
        assert.match(err.message, message);
        return true;
      });
    }
  });
});
