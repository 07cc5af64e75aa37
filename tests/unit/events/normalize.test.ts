/** Field normalization: what the recorder sends always passes the API server's Event rules. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  eventName,
  isDns1123Subdomain,
  isQualifiedName,
  MAX_MESSAGE_BYTES,
  microTime,
  normalizeInstance,
  normalizeMessage,
  normalizeReason,
  normalizeType,
  secondTime,
  utf8Length,
} from "../../../lib/events/normalize.ts";

describe("type", () => {
  it("maps kopf and logging levels to Normal or Warning, and nothing else", () => {
    for (const t of ["Warning", "warning", "WARN", "Error", "error", "Fatal", "critical", "Exception"]) {
      assert.equal(normalizeType(t), "Warning", t);
    }
    for (const t of ["Normal", "info", "Debug", "SomeType", "", undefined]) {
      assert.equal(normalizeType(t), "Normal", String(t));
    }
  });
});

describe("reason", () => {
  it("removes whitespace and control characters, keeping CamelCase", () => {
    assert.equal(normalizeReason("Failed to sync"), "FailedToSync");
    assert.equal(normalizeReason("  Back\toff\nnow "), "BackOffNow");
    assert.equal(normalizeReason("Created"), "Created");
  });
  it("replaces an empty reason and cuts a long one to 128 bytes on a character boundary", () => {
    assert.equal(normalizeReason(""), "Unspecified");
    assert.equal(normalizeReason(" \n\t"), "Unspecified");
    const long = normalizeReason("€".repeat(100));
    assert.ok(utf8Length(long) <= 128 && utf8Length(long) > 125);
    assert.equal(long, "€".repeat(42));
  });
});

describe("message", () => {
  it("cuts 2,000 x € to at most 1024 bytes, keeping head and tail around an ellipsis, no U+FFFD", () => {
    const m = normalizeMessage("€".repeat(2000));
    assert.ok(utf8Length(m) <= MAX_MESSAGE_BYTES, `${utf8Length(m)} bytes`);
    assert.ok(utf8Length(m) >= MAX_MESSAGE_BYTES - 6, "uses the room it has");
    assert.ok(m.startsWith("€€€") && m.endsWith("€€€") && m.includes("..."));
    assert.equal(m.includes("\uFFFD"), false);
  });
  it("keeps start and end of a long ASCII message", () => {
    const m = normalizeMessage("start" + "x".repeat(2048) + "end");
    assert.equal(utf8Length(m), 1024);
    assert.ok(m.startsWith("startxx") && m.endsWith("xxend"));
  });
  it("never splits a surrogate pair", () => {
    const m = normalizeMessage("a" + "😀".repeat(600));
    assert.ok(utf8Length(m) <= 1024);
    assert.equal(m, m.toWellFormed ? m.toWellFormed() : m);
    assert.equal(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(m), false);
  });
  it("replaces lone surrogates before measuring", () => {
    const m = normalizeMessage("\uD800".repeat(500));
    assert.ok(utf8Length(m) <= 1024);
    assert.ok(m.startsWith("\uFFFD"));
  });
  it("turns newlines and control characters into single spaces and trims", () => {
    assert.equal(
      normalizeMessage("line one\r\nline two\n\tthree\u0000\u0085end\u2028x  "),
      "line one line two three end x",
    );
    assert.equal(normalizeMessage("a\nb", true), "a\nb");
    assert.equal(normalizeMessage(undefined), "");
  });
});

describe("names and identities", () => {
  it("always makes a valid DNS-1123 subdomain event name", () => {
    const names = [
      "web-1",
      "fd00:10::1",
      "Kyverno:Migrate",
      "a".repeat(300),
      "",
      "..",
      "-x-",
      "x.-.y",
      "ÄÖÜ",
      "a_b",
    ];
    const seen = new Set<string>();
    for (const n of names) {
      const name = eventName(n, Date.now(), seen.size, Math.random);
      assert.ok(isDns1123Subdomain(name), `${n} -> ${name}`);
      assert.ok(!seen.has(name));
      seen.add(name);
    }
    assert.ok(eventName("web-1", 0, 0, () => 0).startsWith("web-1."));
  });
  it("gives distinct names to emits in the same millisecond", () => {
    const names = new Set(Array.from({ length: 1000 }, (_, i) => eventName("x", 1, i, Math.random)));
    assert.equal(names.size, 1000);
  });
  it("checks the reporting component as a qualified name", () => {
    assert.ok(isQualifiedName("dataflow-controller"));
    assert.ok(isQualifiedName("example.com/dataflow"));
    assert.equal(isQualifiedName(""), false);
    assert.equal(isQualifiedName("has space"), false);
    assert.equal(isQualifiedName("a".repeat(64)), false);
    assert.equal(isQualifiedName("-x"), false);
  });
  it("keeps the reporting instance within 128 bytes and distinct", () => {
    const a = normalizeInstance("p".repeat(300) + "a", "c");
    const b = normalizeInstance("p".repeat(300) + "b", "c");
    assert.ok(utf8Length(a) <= 128 && utf8Length(b) <= 128);
    assert.notEqual(a, b);
    assert.equal(normalizeInstance("\n", "fallback"), "fallback");
  });
  it("formats MicroTime with six fractional digits and metav1.Time at seconds", () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 123);
    assert.equal(microTime(t), "2026-01-02T03:04:05.123000Z");
    assert.equal(secondTime(t), "2026-01-02T03:04:05Z");
  });
});
