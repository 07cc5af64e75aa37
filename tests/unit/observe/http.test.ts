/**
 * The health and metrics endpoints (lib/observe/http.ts): /healthz and /readyz with named checks,
 * `?verbose`, `?exclude`, `/readyz/<name>` and /metrics; checks that hang or have bad names; bind
 * addresses; and readiness in the log (a check that has never passed fails at debug only, one that
 * passed and then fails is a warning, once, and its recovery an info line).
 */
import { after, afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { HealthChecks, parseBindAddress, startObserveServer } from "../../../lib/observe/http.ts";

after(() => configureLogging({ level: "fatal", write: () => {} }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
};

describe("observe HTTP endpoints", () => {
  it("serves /healthz, /readyz with named checks, ?verbose, ?exclude, /readyz/<name> and /metrics", async () => {
    const ready = new HealthChecks(200);
    let cacheOk = false;
    ready.add("informer-things", () => cacheOk || "not synced");
    ready.add("db", () => true);
    const registry = new Registry();
    registry.counter("things_total", "Things.").inc({}, 3);
    const srv = await startObserveServer({
      address: "127.0.0.1:0",
      health: new HealthChecks(),
      ready,
      registry,
    });
    cleanups.push(() => srv.close());
    assert.deepEqual(await get(srv.port, "/healthz"), { status: 200, body: "ok" });
    assert.deepEqual(await get(srv.port, "/healthz?verbose"), {
      status: 200,
      body: "[+]ping ok\nhealthz check passed\n",
    });
    const failing = await get(srv.port, "/readyz");
    assert.equal(failing.status, 500);
    assert.equal(failing.body, "[-]informer-things failed: not synced\n[+]db ok\nreadyz check failed\n");
    assert.equal((await get(srv.port, "/readyz?exclude=informer-things")).status, 200);
    assert.match(
      (await get(srv.port, "/readyz?exclude=informer-things&verbose")).body,
      /\[\+\]informer-things excluded: ok/,
    );
    // Only a registered check can be excluded: a name that matches none is said to, not listed as ok.
    const typo = await get(srv.port, "/readyz?exclude=informer-things&exclude=informer-thing&verbose");
    assert.equal(
      typo.body,
      "[+]db ok\n[+]informer-things excluded: ok\n" +
        'warn: some health checks cannot be excluded: no matches for "informer-thing"\nreadyz check passed\n',
    );
    assert.equal((await get(srv.port, "/readyz/informer-things")).status, 500);
    assert.deepEqual(await get(srv.port, "/readyz/db"), { status: 200, body: "ok" });
    assert.equal((await get(srv.port, "/readyz/nope")).status, 404);
    cacheOk = true;
    assert.deepEqual(await get(srv.port, "/readyz?verbose"), {
      status: 200,
      body: "[+]informer-things ok\n[+]db ok\nreadyz check passed\n",
    });
    const m = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
    assert.match(m.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
    assert.match(await m.text(), /^things_total 3$/m);
    assert.equal((await get(srv.port, "/other")).status, 404);
  });

  it("a hanging check fails after its timeout; check names are validated; bind addresses parse", async () => {
    const checks = new HealthChecks(50);
    checks.add("slow", () => new Promise(() => {}));
    const [r] = await checks.run();
    assert.deepEqual(r, { name: "slow", ok: false, reason: "timed out after 50 ms" });
    assert.throws(() => checks.add("bad name", () => true), TypeError);
    assert.deepEqual(parseBindAddress(":9090"), { host: "", port: 9090 });
    assert.deepEqual(parseBindAddress("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseBindAddress("[::1]:81"), { host: "::1", port: 81 });
    assert.deepEqual(parseBindAddress("8080"), { host: "", port: 8080 });
    assert.throws(() => parseBindAddress("nope"));
  });
});

describe("readiness checks in the log", () => {
  it("no warning while caches sync; one warning when a passing check fails; info when it recovers", async () => {
    const lines: Record<string, unknown>[] = [];
    configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
    let synced = false;
    const ready = new HealthChecks().add("informer-dataflows", () => synced || "not synced yet");
    const srv = await startObserveServer({ address: "127.0.0.1:0", ready, registry: false });
    cleanups.push(() => srv.close());
    const probe = async () => (await get(srv.port, "/readyz")).status;
    const checkLines = () => lines.filter((l) => String(l.message).startsWith("readyz check"));
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
  });
});
