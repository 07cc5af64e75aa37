/**
 * The text exposition format the registry renders, byte for byte: label values and HELP texts
 * with backslashes, newlines and quotes escaped, series without labels, missing labels rendered
 * empty, special values, histogram buckets with and without labels, and an empty registry. A
 * series' label text is rendered once, when the series is first written; these pin that it is the
 * same text a scrape rendered from scratch.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "../../../lib/observe/metrics.ts";

/** A registry holding every case. */
function populated(): Registry {
  const r = new Registry();
  const jobs = r.counter("jobs_total", "Jobs done.\nBy queue, in \\ units.", ["queue", "result"]);
  jobs.inc({ queue: 'say "hi"', result: "a\\b\nc" }, 2);
  jobs.inc({ queue: "plain" });
  const t = r.gauge("temperature", "Temperature.", ["room"]);
  t.set({ room: "" }, 21.5);
  t.set({}, -0.25); // no value for `room`: the same series as the empty one
  t.set({ room: "nan" }, NaN);
  t.set({ room: "hot" }, Infinity);
  t.set({ room: "cold" }, -Infinity);
  t.set({ room: "big" }, 1e21);
  t.set({ room: "gone" }, 1);
  t.remove({ room: "gone" });
  r.gauge("up", "Up.").set({}, 1);
  r.gauge("empty", "No series yet.", ["a"]);
  const latency = r.histogram("latency_seconds", "Latency.", ["path"], [0.5, 1e-7, 2]);
  latency.observe({ path: '/a"b' }, 0.3);
  latency.observe({ path: '/a"b' }, 5);
  r.histogram("size_bytes", "Size.", [], [100]).observe({}, 42);
  return r;
}

const EXPECTED = [
  String.raw`# HELP jobs_total Jobs done.\nBy queue, in \\ units.`,
  String.raw`# TYPE jobs_total counter`,
  String.raw`jobs_total{queue="say \"hi\"",result="a\\b\nc"} 2`,
  String.raw`jobs_total{queue="plain",result=""} 1`,
  String.raw`# HELP temperature Temperature.`,
  String.raw`# TYPE temperature gauge`,
  String.raw`temperature{room=""} -0.25`,
  String.raw`temperature{room="nan"} NaN`,
  String.raw`temperature{room="hot"} +Inf`,
  String.raw`temperature{room="cold"} -Inf`,
  String.raw`temperature{room="big"} 1e+21`,
  String.raw`# HELP up Up.`,
  String.raw`# TYPE up gauge`,
  String.raw`up 1`,
  String.raw`# HELP empty No series yet.`,
  String.raw`# TYPE empty gauge`,
  String.raw`# HELP latency_seconds Latency.`,
  String.raw`# TYPE latency_seconds histogram`,
  String.raw`latency_seconds_bucket{path="/a\"b",le="1e-7"} 0`,
  String.raw`latency_seconds_bucket{path="/a\"b",le="0.5"} 1`,
  String.raw`latency_seconds_bucket{path="/a\"b",le="2"} 1`,
  String.raw`latency_seconds_bucket{path="/a\"b",le="+Inf"} 2`,
  String.raw`latency_seconds_sum{path="/a\"b"} 5.3`,
  String.raw`latency_seconds_count{path="/a\"b"} 2`,
  String.raw`# HELP size_bytes Size.`,
  String.raw`# TYPE size_bytes histogram`,
  String.raw`size_bytes_bucket{le="100"} 1`,
  String.raw`size_bytes_bucket{le="+Inf"} 1`,
  String.raw`size_bytes_sum 42`,
  String.raw`size_bytes_count 1`,
].join("\n") + "\n";

describe("Registry.render text", () => {
  it("escapes label values and HELP texts and renders every kind exactly", () => {
    assert.equal(populated().render(), EXPECTED);
  });

  it("renders the same text on every scrape, and after values change only the values", () => {
    const r = populated();
    assert.equal(r.render(), r.render());
    r.counter("jobs_total", "").inc({ queue: 'say "hi"', result: "a\\b\nc" });
    assert.equal(
      r.render(),
      EXPECTED.replace(String.raw`result="a\\b\nc"} 2`, String.raw`result="a\\b\nc"} 3`),
    );
  });

  it("keeps label values that differ only in escaped characters as distinct series", () => {
    const r = new Registry();
    const g = r.gauge("pairs", "Pairs.", ["a", "b"]);
    g.set({ a: 'x",b="y', b: "" }, 1);
    g.set({ a: "x", b: "y" }, 2);
    assert.equal(g.get({ a: 'x",b="y', b: "" }), 1);
    assert.equal(g.get({ a: "x", b: "y" }), 2);
    assert.match(r.render(), /^pairs\{a="x\\",b=\\"y",b=""\} 1\npairs\{a="x",b="y"\} 2$/m);
  });

  it("renders a single metric alone, and an empty registry as one newline", () => {
    const r = new Registry();
    assert.equal(r.render(), "\n");
    assert.equal(r.gauge("up", "Up.").render(), "# HELP up Up.\n# TYPE up gauge");
    r.gauge("up", "Up.").set({}, 1);
    assert.equal(r.gauge("up", "Up.").render(), "# HELP up Up.\n# TYPE up gauge\nup 1");
  });
});
