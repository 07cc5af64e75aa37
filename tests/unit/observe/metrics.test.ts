/**
 * The metrics registry's guards: one name is one metric of one type, and a collector
 * that throws is logged, not silently skipped, while the scrape still renders.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";

after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("Registry", () => {
  it("returns the registered metric for the same name and labels", () => {
    const r = new Registry();
    const c = r.counter("jobs_total", "Jobs.", ["queue"]);
    assert.equal(r.counter("jobs_total", "Jobs.", ["queue"]), c);
  });

  it("refuses the same name as another type", () => {
    const r = new Registry();
    r.counter("jobs_total", "Jobs.", ["queue"]);
    assert.throws(() => r.gauge("jobs_total", "Jobs."), /already registered as a counter/);
  });

  it("logs a collector that throws and renders the rest", () => {
    const lines: string[] = [];
    configureLogging({ category: "t", level: "warning", format: "json", write: (l) => lines.push(l) });
    const r = new Registry();
    const g = r.gauge("depth", "Depth.");
    r.addCollector(() => {
      throw new Error("source gone");
    });
    r.addCollector(() => g.set({}, 3));
    assert.match(r.render(), /^depth 3$/m);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /a metrics collector failed: source gone/);
  });
});
