/**
 * Event-storm benchmark: the three storm shapes of issue 4 against a private, real control plane
 * (kube-apiserver + etcd), with the recorder's default settings (30 s update interval, budget 25
 * per object and reason, adaptive write concurrency 1-32 starting at 4; no busy signal).
 *
 *   1. one object x 1,000 identical warnings
 *   2. 1,000 objects x 10 identical warnings each
 *   3. one object x 1,000 different messages (same reason)
 *
 * Emits are spread over 10 s (100 per second per shape, 1,000 per second for shape 2), then the
 * run waits until the recorder has nothing pending (no close(): this is the steady-state path).
 * API calls are taken from the API server's /metrics (`apiserver_request_total` deltas by verb
 * for core `events`) and from a counting Transport wrapper; final counts are read back from the
 * server. Latency per occurrence: the benchmark notes when it emitted each occurrence, the
 * wrapper when the API server answered each successful write and with which count; occurrence k
 * of a series is on the server at the answer to the first write of that series whose count is
 * >= k. Results go to bench/events/results.md.
 *
 * Run: deno run -A bench/events/storm.ts
 */
import { cpus, loadavg, totalmem } from "node:os";
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
import { describeEmitCost, measureEmitCost } from "./emit-cost.ts";
import type { KubeRequest } from "../../lib/kube/transport.ts";

/** One successful Event write: which Event, the count it carried, when the API server answered. */
interface Delivery {
  name: string;
  /** The series key the benchmark gave the body (from a POST; PATCHes inherit it by name). */
  series?: string;
  count: number;
  at: number;
}

/** Records every successful Event write's count and answer time, and the writes in flight at most. */
class TimingTransport extends CountingTransport {
  readonly deliveries: Delivery[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    inner: ConstructorParameters<typeof CountingTransport>[0],
    readonly seriesOf: (body: CoreEventBody) => string,
  ) {
    super(inner);
  }
  override async request(req: KubeRequest): Promise<Response> {
    const event = /\/events(\/|$)/.test(req.path) && (req.method === "POST" || req.method === "PATCH");
    if (event) this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      const res = await super.request(req);
      if (event && res.status < 300) {
        const body = JSON.parse(req.body ?? "{}") as CoreEventBody;
        const at = performance.now();
        const name = req.method === "POST"
          ? body.metadata.name
          : decodeURIComponent(req.path.split("/").pop()!);
        this.deliveries.push({
          name,
          series: req.method === "POST" ? this.seriesOf(body) : undefined,
          count: body.count,
          at,
        });
      }
      return res;
    } finally {
      if (event) this.inFlight--;
    }
  }
}

/** The fields of an Event body the benchmark reads. */
interface CoreEventBody {
  metadata: { name: string };
  involvedObject: { name: string };
  message: string;
  count: number;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Latency percentiles in seconds. */
interface Latency {
  p50: number;
  p99: number;
  max: number;
}

function latencyOf(values: number[]): Latency {
  return {
    p50: percentile(values, 50) / 1000,
    p99: percentile(values, 99) / 1000,
    max: Math.max(...values) / 1000,
  };
}

/**
 * Occurrence k of series S (emitted at emits[S][k-1]) is on the server at the answer to the first
 * successful write of S carrying count >= k. Returns the latencies (ms) of every occurrence and of
 * each series' first occurrence, and the writes per series.
 */
function occurrenceLatencies(
  emits: Map<string, number[]>,
  deliveries: Delivery[],
): { all: number[]; first: number[]; writesPerSeries: number[]; undelivered: number } {
  const seriesByName = new Map<string, string>();
  for (const d of deliveries) if (d.series !== undefined) seriesByName.set(d.name, d.series);
  const bySeries = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    const s = d.series ?? seriesByName.get(d.name);
    if (s === undefined) continue;
    let list = bySeries.get(s);
    if (!list) bySeries.set(s, list = []);
    list.push(d);
  }
  const all: number[] = [];
  const first: number[] = [];
  let undelivered = 0;
  for (const [s, times] of emits) {
    const writes = (bySeries.get(s) ?? []).sort((a, b) => a.at - b.at);
    let w = 0;
    for (let k = 1; k <= times.length; k++) {
      while (w < writes.length && writes[w].count < k) w++;
      if (w === writes.length) {
        undelivered += times.length - k + 1;
        break;
      }
      const lag = writes[w].at - times[k - 1];
      all.push(lag);
      if (k === 1) first.push(lag);
    }
  }
  return { all, first, writesPerSeries: [...bySeries.values()].map((l) => l.length), undelivered };
}

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
  /** Emission to on the server, every occurrence and each series' first. */
  latencyAll: Latency;
  latencyFirst: Latency;
  maxWritesPerSeries: number;
  series: number;
  maxInFlight: number;
  /** Occurrences the benchmark could not match to a write (should be 0). */
  undelivered: number;
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
  emit: (r: EventRecorder, ns: string, round: number, note: (series: string) => void) => number,
  check: (events: CoreEvent[]) => [string, boolean],
  seriesOf: (body: CoreEventBody) => string,
): Promise<ShapeResult> {
  const ns = await freshNamespace(cp, "bench-storm");
  const transport = new TimingTransport(clientFor(cp).transport, seriesOf);
  const emits = new Map<string, number[]>();
  const note = (series: string) => {
    let list = emits.get(series);
    if (!list) emits.set(series, list = []);
    list.push(performance.now());
  };
  const r = new EventRecorder(new KubeClient(transport), {
    component: "dataflow-controller",
    registry: new Registry(),
  });
  const before = await serverEventCalls(admin);
  const started = performance.now();
  let emitted = 0;
  for (let round = 0; round < 10; round++) {
    emitted += emit(r, ns, round, note);
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
  const lat = occurrenceLatencies(emits, transport.deliveries);
  return {
    latencyAll: latencyOf(lat.all),
    latencyFirst: latencyOf(lat.first),
    maxWritesPerSeries: Math.max(...lat.writesPerSeries),
    series: lat.writesPerSeries.length,
    maxInFlight: transport.maxInFlight,
    undelivered: lat.undelivered,
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

function fmtLatency(l: Latency): string {
  return [l.p50, l.p99, l.max].map((v) => v.toFixed(v < 1 ? 3 : 1)).join(" / ");
}

function fmtCalls(c: Record<string, number>): string {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const verbs = Object.keys(c).sort().reverse(); // POST, PATCH
  return `${total} (${verbs.map((k) => `${k} ${c[k]}`).join(", ") || "none"})`;
}

async function main(): Promise<void> {
  const loadStart = loadavg().map((l) => l.toFixed(2)).join(" / ");
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
      await runShape(
        cp,
        admin,
        "1 object x 1,000 identical",
        (r, ns, _round, note) => {
          for (let i = 0; i < 100; i++) {
            note("web-0");
            r.warn(pod("web-0", ns), "BackOff", "Back-off restarting failed container");
          }
          return 100;
        },
        (events) => ["1 Event, count 1000", events.length === 1 && events[0].count === 1000],
        (body) => body.involvedObject.name,
      ),
    );
    console.log(results.at(-1));

    results.push(
      await runShape(
        cp,
        admin,
        "1,000 objects x 10",
        (r, ns, _round, note) => {
          for (let i = 0; i < 1000; i++) {
            note(`web-${i}`);
            r.warn(pod(`web-${i}`, ns), "BackOff", "Back-off restarting failed container");
          }
          return 1000;
        },
        (events) => [
          "1000 Events, each count 10",
          events.length === 1000 && events.every((e) => e.count === 10),
        ],
        (body) => body.involvedObject.name,
      ),
    );
    console.log(results.at(-1));

    results.push(
      await runShape(
        cp,
        admin,
        "1 object x 1,000 different messages",
        (r, ns, round, note) => {
          for (let i = 0; i < 100; i++) {
            const j = round * 100 + i;
            // The first 10 distinct messages keep their own Events, the rest fold into one.
            note(j < 10 ? `sync ${j} failed` : "combined");
            r.warn(pod("web-0", ns), "SyncFailed", `sync ${j} failed`);
          }
          return 100;
        },
        (events) => {
          const combined = events.filter((e) => e.message?.startsWith("(combined from similar events): "));
          const own = events.length - combined.length;
          return [
            "10 own Events + 1 combined with count 990",
            own === 10 && combined.length === 1 && combined[0].count === 990,
          ];
        },
        (body) => body.message.startsWith("(combined from similar events): ") ? "combined" : body.message,
      ),
    );
    console.log(results.at(-1));

    const emitCost = await measureEmitCost();
    console.log(describeEmitCost(emitCost));

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
      `- Load average (1/5/15 min): ${loadStart} at the start, ${
        loadavg().map((l) => l.toFixed(2)).join(" / ")
      } at the end`,
      "- Recorder settings: defaults (update interval 30 s, per object+reason budget burst 25 then 1/30 s, adaptive write concurrency: floor 1, start 4, ceiling 32; no busy signal)",
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
      "Latency from the moment the benchmark emitted an occurrence to the API server's answer to the first write that",
      'carried it (s). "First" is each series\' first occurrence (the leading edge, written at once); "every" is every',
      "occurrence, including the repeats that the recorder coalesces into a count update at most every 30 s (the update",
      "interval), so their latency is bounded by that interval by design.",
      "",
      "| Shape | Calls | Series | Max writes per series | Max writes in flight | First: p50 / p99 / max | Every: p50 / p99 / max | Unmatched |",
      "|---|---|---|---|---|---|---|---|",
      ...results.map((r) =>
        `| ${r.shape} | ${
          fmtCalls(r.transportCalls)
        } | ${r.series} | ${r.maxWritesPerSeries} | ${r.maxInFlight} | ${fmtLatency(r.latencyFirst)} | ${
          fmtLatency(r.latencyAll)
        } | ${r.undelivered} |`
      ),
      "",
      "Without coalescing (kopf: one POST per call) the same storms take 1,000, 10,000 and 1,000 POSTs, and as many Event objects.",
      "",
      "Call-site cost (bench/events/emit-cost.ts): " + describeEmitCost(emitCost) + ".",
      "",
    ];
    const out = join(dirname(fileURLToPath(import.meta.url)), "results.md");
    writeFileSync(out, lines.join("\n"));
    // Keep the committed file `deno fmt` clean (tables are aligned by the formatter).
    const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
    if (deno) spawnSync(deno.execPath(), ["fmt", "--quiet", out], { stdio: "inherit" });
    console.log(lines.join("\n"));
    if (!results.every((r) => r.ok && r.undelivered === 0)) process.exitCode = 1;
  } finally {
    admin.transport.close();
    await cp.stop();
  }
}

await main();
