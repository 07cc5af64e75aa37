/**
 * Readiness before the first sync is normal: a check that has never passed fails at debug only;
 * one that passed and then fails is a warning, once, and its recovery an info line.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { configureLogging } from "../../../lib/observe/log.ts";
import { HealthChecks, startObserveServer } from "../../../lib/observe/http.ts";

after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("readiness checks in the log", () => {
  it("no warning while caches sync; one warning when a passing check fails; info when it recovers", async () => {
    const lines: Record<string, unknown>[] = [];
    configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
    let synced = false;
    const ready = new HealthChecks().add("informer-dataflows", () => synced || "not synced yet");
    const srv = await startObserveServer({ address: "127.0.0.1:0", ready, registry: false });
    const probe = async () => {
      const r = await fetch(`http://127.0.0.1:${srv.port}/readyz`);
      await r.body?.cancel();
      return r.status;
    };
    const checkLines = () => lines.filter((l) => String(l.message).startsWith("readyz check"));
    try {
      for (let i = 0; i < 4; i++) assert.equal(await probe(), 500);
      assert.deepEqual(checkLines().map((l) => l.level), ["DEBUG", "DEBUG", "DEBUG", "DEBUG"]);
      assert.equal(checkLines()[0].message, "readyz check informer-dataflows failed: not synced yet");

      synced = true;
      assert.equal(await probe(), 200);
      synced = false;
      assert.equal(await probe(), 500);
      assert.equal(await probe(), 500);
      synced = true;
      assert.equal(await probe(), 200);
      assert.deepEqual(checkLines().slice(4).map((l) => [l.level, l.message]), [
        ["WARN", "readyz check informer-dataflows failed: not synced yet"],
        ["DEBUG", "readyz check informer-dataflows failed: not synced yet"],
        ["INFO", "readyz check informer-dataflows passes again"],
      ]);
    } finally {
      await srv.close();
    }
  });
});
