/**
 * Event-storm benchmark: the three storm shapes of issue 4 against a private, real control plane
 * (kube-apiserver + etcd), with the recorder's default settings (30 s update interval, budgets
 * 25 per object and reason, 10/s global).
 *
 *   1. one object x 1,000 identical warnings
 *   2. 1,000 objects x 10 identical warnings each
 *   3. one object x 1,000 different messages (same reason)
 *
 * Emits are spread over 10 s (100 per second per shape, 1,000 per second for shape 2), then the
 * run waits until the recorder has nothing pending (no close(): this is the steady-state path).
 * API calls are taken from the API server's /metrics (`apiserver_request_total` deltas by verb
 * for core `events`) and from a counting Transport wrapper; final counts are read back from the
 * server. Results go to bench/events/results.md.
 *
 * Run: deno run -A bench/events/storm.ts
 */
import { cpus, totalmem } from "node:os";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { EventRecorder } from "../../lib/events/mod.ts";
import { KubeClient } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { Registry } from "../../lib/observe/metrics.ts";
import { clientFor, freshNamespace } from "../../tests/controlplane/env.ts";
import { ControlPlane } from "../../tests/controlplane/harness.ts";
import { CountingTransport, delta, serverEventCalls } from "../../tests/integration/events/helpers.ts";

interface ShapeResult {
  shape: string;
  emitted: number;
  seconds: number;
  transportCalls: Record<string, number>;
  serverCalls: Record<string, number>;
  events: number;
  countSum: number;
  expected: string;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CoreEvent {
  count?: number;
  message?: string;
  involvedObject: { name: string };
}

async function runShape(
  cp: ControlPlane,
  admin: KubeClient,
  shape: string,
  emit: (r: EventRecorder, ns: string, round: number) => number,
  check: (events: CoreEvent[]) => [string, boolean],
): Promise<ShapeResult> {
  const ns = await freshNamespace(cp, "bench-storm");
  const transport = new CountingTransport(clientFor(cp).transport);
  const r = new EventRecorder(new KubeClient(transport), {
    component: "dataflow-controller",
    registry: new Registry(),
  });
  const before = await serverEventCalls(admin);
  const started = performance.now();
  let emitted = 0;
  for (let round = 0; round < 10; round++) {
    emitted += emit(r, ns, round);
    await sleep(1000);
  }
  // Wait for the steady-state path to drain: nothing pending and nothing in flight.
  while (r.queueDepth > 0) await sleep(200);
  const seconds = (performance.now() - started) / 1000;
  const serverCalls = delta(before, await serverEventCalls(admin));
  await r.close({ timeoutMs: 5000 });
  const transportCalls: Record<string, number> = {};
  for (const c of transport.eventCalls()) transportCalls[c.method] = (transportCalls[c.method] ?? 0) + 1;
  const list = await admin.listAll<CoreEvent>(builtin.Event, { namespace: ns });
  const events = list.items;
  const [expected, ok] = check(events);
  transport.close();
  return {
    shape,
    emitted,
    seconds,
    transportCalls,
    serverCalls,
    events: events.length,
    countSum: events.reduce((n, e) => n + (e.count ?? 0), 0),
    expected,
    ok,
  };
}

function fmtCalls(c: Record<string, number>): string {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const verbs = Object.keys(c).sort().reverse(); // POST, PATCH
  return `${total} (${verbs.map((k) => `${k} ${c[k]}`).join(", ") || "none"})`;
}

async function main(): Promise<void> {
  const cp = await ControlPlane.start();
  const admin = clientFor(cp);
  try {
    const version = await admin.getRaw<{ gitVersion: string }>("/version");
    const results: ShapeResult[] = [];
    const pod = (name: string, ns: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, uid: `uid-${ns}-${name}` },
    });

    results.push(
      await runShape(cp, admin, "1 object x 1,000 identical", (r, ns) => {
        for (let i = 0; i < 100; i++) {
          r.warn(pod("web-0", ns), "BackOff", "Back-off restarting failed container");
        }
        return 100;
      }, (events) => ["1 Event, count 1000", events.length === 1 && events[0].count === 1000]),
    );
    console.log(results.at(-1));

    results.push(
      await runShape(
        cp,
        admin,
        "1,000 objects x 10",
        (r, ns) => {
          for (let i = 0; i < 1000; i++) {
            r.warn(pod(`web-${i}`, ns), "BackOff", "Back-off restarting failed container");
          }
          return 1000;
        },
        (events) => [
          "1000 Events, each count 10",
          events.length === 1000 && events.every((e) => e.count === 10),
        ],
      ),
    );
    console.log(results.at(-1));

    results.push(
      await runShape(cp, admin, "1 object x 1,000 different messages", (r, ns, round) => {
        for (let i = 0; i < 100; i++) {
          r.warn(pod("web-0", ns), "SyncFailed", `sync ${round * 100 + i} failed`);
        }
        return 100;
      }, (events) => {
        const combined = events.filter((e) => e.message?.startsWith("(combined from similar events): "));
        const own = events.length - combined.length;
        return [
          "10 own Events + 1 combined with count 990",
          own === 10 && combined.length === 1 && combined[0].count === 990,
        ];
      }),
    );
    console.log(results.at(-1));

    const runtime =
      (globalThis as { Deno?: { version: { deno: string; v8: string; typescript: string } } }).Deno;
    const bun = (globalThis as { Bun?: { version: string } }).Bun;
    const runtimeLine = runtime
      ? `Deno ${runtime.version.deno} (V8 ${runtime.version.v8}, TypeScript ${runtime.version.typescript})`
      : bun
      ? `Bun ${bun.version}`
      : `Node ${process.version}`;
    const lines = [
      "# Event-storm benchmark",
      "",
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${cpus().length} CPUs (nproc), ${
        (totalmem() / 2 ** 30).toFixed(1)
      } GiB memory, ${process.platform}/${process.arch}; shared with other work`,
      `- Runtime: ${runtimeLine}`,
      `- API server: kube-apiserver ${version.gitVersion} + etcd (private control plane from tests/controlplane)`,
      "- Command: `deno run -A bench/events/storm.ts`",
      "- Recorder settings: defaults (update interval 30 s, per object+reason budget burst 25 then 1/30 s, global budget burst 50 then 10/s, 4 writers)",
      "- Emits are spread over 10 s in 10 rounds; the run then waits until nothing is pending (steady-state path, no close()).",
      "",
      "| Shape | Emitted | API calls (counting transport) | API calls (apiserver /metrics delta) | Events on server | Sum of counts | Expected | OK | Time to drain (s) |",
      "|---|---|---|---|---|---|---|---|---|",
      ...results.map((r) =>
        `| ${r.shape} | ${r.emitted} | ${fmtCalls(r.transportCalls)} | ${
          fmtCalls(r.serverCalls)
        } | ${r.events} | ${r.countSum} | ${r.expected} | ${r.ok ? "yes" : "**no**"} | ${
          r.seconds.toFixed(1)
        } |`
      ),
      "",
      "Without coalescing (kopf: one POST per call) the same storms take 1,000, 10,000 and 1,000 POSTs, and as many Event objects.",
      "",
    ];
    const out = join(dirname(fileURLToPath(import.meta.url)), "results.md");
    writeFileSync(out, lines.join("\n"));
    // Keep the committed file `deno fmt` clean (tables are aligned by the formatter).
    const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
    if (deno) spawnSync(deno.execPath(), ["fmt", "--quiet", out], { stdio: "inherit" });
    console.log(lines.join("\n"));
    if (!results.every((r) => r.ok)) process.exitCode = 1;
  } finally {
    admin.transport.close();
    await cp.stop();
  }
}

await main();
