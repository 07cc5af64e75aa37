/**
 * The log formats: text without quote noise, JSON with the message rendered the same way and the
 * values as plain fields, every record on one line; LOG_FORMAT and LOG_LEVEL validated.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { ConfigError } from "../../../lib/kube/errors.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { configureLogging, logger, toLogFormat, toLogLevel } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeTransport } from "../kube/fake-transport.ts";

after(() => configureLogging({ level: "fatal", write: () => {} }));

function capture(format: "json" | "text"): string[] {
  const lines: string[] = [];
  configureLogging({ category: "dataflow", level: "debug", format, write: (l) => lines.push(l) });
  return lines;
}

const failed =
  'Failed to create Deployment dataflow-audit-log-archive: Deployment.apps "dataflow-audit-log-archive" ' +
  "is invalid: spec.template.spec.affinity: Invalid value";

function logSamples(): void {
  const log = logger("operator", "reconciler").with({
    dataflow_namespace: "tenant-a",
    dataflow_name: "audit-log-archive",
  });
  log.warning("DataFlow {dataflow_namespace}/{dataflow_name}: {detail}", { detail: failed });
  log.info("listed {count} objects of {informer} ({ok}, {obj}, {err})", {
    count: 3,
    informer: "dataflows",
    ok: true,
    obj: { a: ["b", 1] },
    err: new Error("boom"),
  });
  log.info("value {v}", { v: "line one\nline two\u001b[2J" });
}

describe("text format", () => {
  it("renders strings without quotes, errors by their message, objects as compact JSON", () => {
    const lines = capture("text");
    logSamples();
    assert.equal(lines.length, 3);
    assert.match(
      lines[0],
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+00 \[WRN\] dataflow\.operator\.reconciler: DataFlow tenant-a\/audit-log-archive: Failed to create Deployment dataflow-audit-log-archive: Deployment\.apps "dataflow-audit-log-archive" is invalid: spec\.template\.spec\.affinity: Invalid value\n$/,
    );
    assert.ok(
      lines[1].endsWith(`: listed 3 objects of dataflows (true, {"a":["b",1]}, boom)\n`),
      lines[1],
    );
  });

  it("keeps every record on one line: control characters in values are escaped", () => {
    const lines = capture("text");
    logSamples();
    assert.ok(lines[2].endsWith(": value line one\\nline two\\u001b[2J\n"), lines[2]);
    for (const l of lines) assert.equal(l.split("\n").length, 2, l);
  });

  it("logs an HTML error page from a proxy as one summarised line, never a string concatenation", async () => {
    const page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
      "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n" +
      "</html>\r\n".repeat(5);
    const client = new KubeClient(
      new FakeTransport(() => new Response(page, { status: 502, headers: { "Content-Type": "text/html" } })),
      { registry: new Registry(), retry: { maxRetries: 0 } },
    );
    const err = await client.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "n" } }).catch((
      e,
    ) => e);
    const lines = capture("text");
    logger("test").error("write failed: {error}", { error: err });
    assert.equal(lines.length, 1);
    assert.ok(
      lines[0].endsWith(
        ": write failed: POST /api/v1/namespaces/n/configmaps: HTTP 502 from https://fake.test:6443: 502 Bad Gateway\n",
      ),
      lines[0],
    );
    assert.doesNotMatch(lines[0], /" \+|<|\\r/);
  });
});

describe("root category", () => {
  // Taken when this module loads, before any configuration: as the toolkit's modules take theirs.
  const early = logger("kube", "client");
  const earlyWith = logger("runtime", "manager").with({ manager: "m" });

  const loggersOf = (root?: string) => {
    const records: { logger: string; manager?: string }[] = [];
    configureLogging({
      category: root,
      level: "info",
      format: "json",
      write: (l) => records.push(JSON.parse(l)),
    });
    early.info("one");
    earlyWith.info("two");
    return records.map((r) => [r.logger, r.manager ?? ""]);
  };

  it("is the application's, given to configureLogging, also for loggers taken before", () => {
    assert.deepEqual(loggersOf("my-operator"), [["my-operator.kube.client", ""], [
      "my-operator.runtime.manager",
      "m",
    ]]);
    assert.deepEqual(loggersOf("other"), [["other.kube.client", ""], ["other.runtime.manager", "m"]]);
  });

  it("names no application when none is given", () => {
    assert.deepEqual(loggersOf(), [["operator.kube.client", ""], ["operator.runtime.manager", "m"]]);
  });

  it("refuses an empty root and keeps the configuration in place", () => {
    const lines: string[] = [];
    configureLogging({ category: "kept", level: "info", format: "json", write: (l) => lines.push(l) });
    assert.throws(() => configureLogging({ category: "", write: () => {} }), ConfigError);
    early.info("still here");
    assert.equal(JSON.parse(lines[0]).logger, "kept.kube.client");
  });
});

describe("JSON format", () => {
  it("renders the message like the text format and the values as plain fields", () => {
    const lines = capture("json");
    logSamples();
    const records = lines.map((l) => JSON.parse(l));
    assert.equal(records[0].level, "WARN");
    assert.equal(records[0].logger, "dataflow.operator.reconciler");
    assert.equal(records[0].message, `DataFlow tenant-a/audit-log-archive: ${failed}`);
    assert.equal(records[0].detail, failed);
    assert.equal(records[0].dataflow_namespace, "tenant-a");
    assert.equal(records[0].dataflow_name, "audit-log-archive");
    assert.ok(!Number.isNaN(Date.parse(records[0]["@timestamp"])));
    // The only escaped quotes in the raw line are the API's own, once.
    assert.ok(lines[0].includes(String.raw`Deployment.apps \"dataflow-audit-log-archive\" is invalid`));
    assert.ok(!lines[0].includes(String.raw`\"tenant-a\"`), lines[0]);
    assert.equal(records[1].message, 'listed 3 objects of dataflows (true, {"a":["b",1]}, boom)');
    assert.equal(records[1].count, 3);
    assert.equal(records[1].ok, true);
    assert.deepEqual(records[1].obj, { a: ["b", 1] });
    assert.equal(records[1].err, "boom");
    assert.equal(records[2].message, "value line one\nline two\u001b[2J", "escaped once, by JSON");
    for (const l of lines) assert.equal(l.split("\n").length, 2, l);
  });

  it("writes a value met twice in full, and only a real cycle as [Circular]", () => {
    const lines = capture("json");
    const labels = { app: "web" };
    const loop: Record<string, unknown> = { name: "loop" };
    loop.self = loop;
    const pair = { left: labels, right: labels, counts: new Map([["a", labels]]) };
    logger("test").info("{pair} {loop}", { pair, from: labels, to: labels, loop });
    const r = JSON.parse(lines[0]);
    assert.deepEqual(r.from, labels);
    assert.deepEqual(r.to, labels);
    assert.deepEqual(r.pair, { left: labels, right: labels, counts: { a: labels } });
    assert.deepEqual(r.loop, { name: "loop", self: "[Circular]" });
    assert.equal(
      r.message,
      '{"left":{"app":"web"},"right":{"app":"web"},"counts":{"a":{"app":"web"}}} {"name":"loop","self":"[Circular]"}',
    );
  });

  it("never lets a property overwrite the message, level, logger or timestamp", () => {
    const lines = capture("json");
    logger("test").info("hello {who}", { who: "you", message: "mine", level: "x", logger: "y" });
    const r = JSON.parse(lines[0]);
    assert.equal(r.message, "hello you");
    assert.equal(r.level, "INFO");
    assert.equal(r.logger, "dataflow.test");
    assert.equal(r["property.message"], "mine");
    assert.equal(r["property.level"], "x");
  });
});

describe("LOG_FORMAT and LOG_LEVEL", () => {
  it("accepts json and text, any case; unset or empty means json", () => {
    assert.equal(toLogFormat("json"), "json");
    assert.equal(toLogFormat(" Text "), "text");
    assert.equal(toLogFormat(undefined), "json");
    assert.equal(toLogFormat(""), "json");
  });

  it("refuses any other format with a ConfigError naming the variable and the choices", () => {
    assert.throws(() => configureLogging({ format: "xml", write: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal((err as Error).message, "LOG_FORMAT=xml: expected json or text");
      return true;
    });
  });

  it("reads LOG_FORMAT when no format is given, and keeps the configuration in place on an error", () => {
    const lines = capture("json");
    const saved = process.env.LOG_FORMAT;
    process.env.LOG_FORMAT = "xml";
    try {
      assert.throws(
        () => configureLogging({ level: "debug" }),
        /^ConfigError: LOG_FORMAT=xml: expected json or text$/,
      );
    } finally {
      if (saved === undefined) delete process.env.LOG_FORMAT;
      else process.env.LOG_FORMAT = saved;
    }
    logger("test").info("still here");
    assert.equal(JSON.parse(lines[0]).message, "still here");
  });

  it("refuses an unknown LOG_LEVEL the same way", () => {
    assert.throws(() => toLogLevel("verbose"), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        (err as Error).message,
        "LOG_LEVEL=verbose: expected one of trace, debug, info, warning, error, fatal",
      );
      return true;
    });
    assert.equal(toLogLevel("WARN"), "warning");
    assert.equal(toLogLevel(undefined), "info");
    assert.equal(toLogLevel(""), "info");
  });
});
