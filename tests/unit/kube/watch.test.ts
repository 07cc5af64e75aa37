import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readLines, watchEvents, WatchIdleError } from "../../../lib/kube/watch.ts";
import { GoneError } from "../../../lib/kube/errors.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { settle } from "./fake-transport.ts";

function chunked(parts: string[], delayMs = 1, holdOpen = false): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      await new Promise((r) => setTimeout(r, delayMs));
      if (i < parts.length) c.enqueue(enc.encode(parts[i++]));
      else if (!holdOpen) c.close();
      else await new Promise(() => {}); // silent forever
    },
  });
}

describe("readLines", () => {
  it("joins lines split across chunks, handles CRLF and a last line without newline", async () => {
    const lines: string[] = [];
    for await (const l of readLines(chunked(['{"a":', '1}\r\n{"b"', ":2}\n\n", '{"c":3}']))) lines.push(l);
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("decodes multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode('{"m":"€"}\n');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, 7));
        c.enqueue(bytes.slice(7));
        c.close();
      },
    });
    const out: string[] = [];
    for await (const l of readLines(stream)) out.push(l);
    assert.deepEqual(out, ['{"m":"€"}']);
  });
});

describe("watchEvents", () => {
  it("yields 1.5 events then the rest as exactly two events in order, bookmarks included", async () => {
    const ev = (t: string, rv: string) =>
      JSON.stringify({ type: t, object: { metadata: { resourceVersion: rv } } });
    const all = `${ev("ADDED", "1")}\n${ev("BOOKMARK", "2")}\n`;
    const cut = Math.floor(all.length * 0.75);
    const got: string[] = [];
    for await (
      const e of watchEvents(chunked([all.slice(0, cut), all.slice(cut)]), new AbortController(), 0, "W")
    ) {
      got.push(
        `${e.type}:${(e.object as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`,
      );
    }
    assert.deepEqual(got, ["ADDED:1", "BOOKMARK:2"]);
  });

  it("types an ERROR event with 410 as GoneError", async () => {
    const line = JSON.stringify({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
    });
    const events = [];
    for await (const e of watchEvents(chunked([line + "\n"]), new AbortController(), 0, "W")) events.push(e);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, "ERROR");
    assert.ok(events[0].type === "ERROR" && events[0].error instanceof GoneError);
  });

  it("aborts a stream that stays silent for idleMs with WatchIdleError, timed on the given clock", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const events = watchEvents(
      chunked(['{"type":"ADDED","object":{}}\n'], 1, true),
      controller,
      150,
      "W",
      clock,
    );
    assert.equal((await events.next()).value?.type, "ADDED");
    const outcome = events.next().then(() => "an event", (err: unknown) => err);
    await clock.advance(149);
    assert.equal(controller.signal.aborted, false, "not idle before idleMs");
    await clock.advance(1);
    assert.ok(await outcome instanceof WatchIdleError);
  });

  it("an idle limit of 0 leaves the stream to another watchdog", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const events = watchEvents(
      chunked(['{"type":"ADDED","object":{}}\n'], 1, true),
      controller,
      0,
      "W",
      clock,
    );
    await events.next();
    assert.equal(clock.pendingTimers, 0, "no timer armed");
    controller.abort(new Error("stopped by its owner"));
    await assert.rejects(events.next(), /stopped by its owner/);
  });

  it("ends at once with the abort reason when the controller was aborted before the stream was read", async () => {
    const controller = new AbortController();
    const reason = new Error("stopped before the first event");
    controller.abort(reason);
    // A body that never delivers and ignores the signal, like a test double's stream.
    const silent = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const outcome = settle(watchEvents(silent, controller, 0, "W").next());
    await flushMicrotasks();
    assert.equal(outcome.done, true, "the watch ended");
    assert.equal(outcome.error, reason);
  });

  it("rejects a line that is not JSON with a message naming the request", async () => {
    await assert.rejects(async () => {
      for await (const _ of watchEvents(chunked(["<html>\n"]), new AbortController(), 0, "WATCH /x")) {
        /* */
      }
    }, /WATCH \/x: the watch stream sent a line that is not JSON/);
  });
});
