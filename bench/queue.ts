/**
 * Work queue cost: the queue on heaps (lib/runtime/queue.ts) against the queue before that redesign
 * (lib/runtime/queue.ts of commit b755b8f, loaded from its sources), on the real clock and its host timers, in
 * one process: the two interleaved round by round (the order alternating, A B B A ...), warm-up
 * rounds dropped, medians of wall and CPU time and the new/old ratios. A single run of each, or
 * runs in separate processes, on this shared machine differ by more than the queues do. Each
 * queue has a metrics registry, as every controller's queue does (one shape goes without). No
 * control plane; about 30 s on 2 shared cores.
 *
 *     deno run -A bench/queue.ts [--rounds=N] [--small]   # to bench/results/queue.md
 *     bun bench/queue.ts [--rounds=N] [--small]           # to bench/results/queue-bun.md
 *     deno task bench queue
 *
 * Shapes (10,000 keys in 10 namespaces; `--small`: 1,000):
 * - plain: add every key, then get/done all; plain-no-metrics: the same without a registry;
 * - relist-backoff: a relist requeues every key with a backoff (afterMs 1-16 ms), then drained
 *   (its wall time includes the up to 16 ms the last deadline waits, the same for both);
 * - delayed-then-changed: every key waits on a 60 s requeue-after, then a change of each arrives
 *   (a plain add drops the delay), then all drained: the removal the redesign made O(log n);
 * - failure-storm: every key fails 3 times (a rate-limited add with a 1 ms base backoff) before it
 *   succeeds;
 * - priorities: an initial list at LOW_PRIORITY, half of it served, then a fifth of the keys change
 *   (raised to 0) and new keys arrive at 10, then all drained.
 */
import { join } from "node:path";
import process from "node:process";
import { LOW_PRIORITY, WorkQueue } from "../lib/runtime/queue.ts";
import { ExponentialRateLimiter } from "../lib/runtime/ratelimit.ts";
import { Registry } from "../lib/observe/metrics.ts";
import { sourceAt } from "./lib/source-at.ts";
import type { BenchContext } from "./lib/context.ts";
import { machineInfo } from "./lib/machine.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, range } from "./lib/stats.ts";

/** What the shapes use of a queue, the same for both implementations. */
interface Queue {
  add(key: string, options?: { priority?: number; afterMs?: number; rateLimited?: boolean }): void;
  get(): Promise<string | undefined>;
  done(key: string): void;
  forget(key: string): void;
  numRequeues(key: string): number;
  len(): number;
}

/** Makes a fresh queue with a 1 ms-base exponential backoff, and its own registry when `metrics`. */
type MakeQueue = (metrics: boolean) => Queue;

/** The commit whose queue is the baseline: the last before the queue moved onto heaps. */
const BASELINE = "b755b8f";

/** The baseline's queue API, as far as the shapes use it. */
interface BaselineQueue {
  add(key: string, options?: { priority?: number }): void;
  addAfter(key: string, ms: number): void;
  addRateLimited(key: string): void;
  get(): Promise<string | undefined>;
  done(key: string): void;
  forget(key: string): void;
  numRequeues(key: string): number;
  len(): number;
}

/** What the baseline's modules provide. */
interface Baseline {
  WorkQueue: new (options: { name: string; registry?: unknown; rateLimiter: unknown }) => BaselineQueue;
  Registry: new () => unknown;
  ExponentialRateLimiter: new (baseMs: number, maxMs: number) => unknown;
}

/** The baseline's modules, loaded from that commit's sources (its own registry and rate limiter). */
async function loadBaseline(): Promise<Baseline> {
  const dir = sourceAt(BASELINE);
  const [queue, metrics, ratelimit] = await Promise.all([
    import(join(dir, "lib/runtime/queue.ts")),
    import(join(dir, "lib/observe/metrics.ts")),
    import(join(dir, "lib/runtime/ratelimit.ts")),
  ]);
  return {
    WorkQueue: queue.WorkQueue,
    Registry: metrics.Registry,
    ExponentialRateLimiter: ratelimit.ExponentialRateLimiter,
  };
}

/** The two queues compared: the baseline's ("old") and the working tree's ("new"). */
function implementations(baseline: Baseline): { name: "old" | "new"; make: MakeQueue }[] {
  return [
    {
      name: "old",
      make: (metrics) => {
        const q = new baseline.WorkQueue({
          name: "bench",
          registry: metrics ? new baseline.Registry() : undefined,
          rateLimiter: new baseline.ExponentialRateLimiter(1, 1000),
        });
        // The old API had one method per kind of add; the options map onto them one to one.
        return {
          add: (key, o = {}) => {
            if (o.rateLimited) q.addRateLimited(key);
            else if (o.afterMs) q.addAfter(key, o.afterMs);
            else q.add(key, { priority: o.priority });
          },
          get: () => q.get(),
          done: (key) => q.done(key),
          forget: (key) => q.forget(key),
          numRequeues: (key) => q.numRequeues(key),
          len: () => q.len(),
        };
      },
    },
    {
      name: "new",
      make: (metrics) =>
        new WorkQueue({
          name: "bench",
          registry: metrics ? new Registry() : undefined,
          rateLimiter: new ExponentialRateLimiter(1, 1000),
        }),
    },
  ];
}

/** The keys of a run, made before the clock starts: `namespace/name` in 10 namespaces. */
interface Keys {
  /** The n keys every shape queues. */
  main: string[];
  /** n/10 more, for keys that arrive later. */
  extra: string[];
}

function makeKeys(n: number): Keys {
  const make = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, i) => `ns-${i % 10}/${prefix}-${i}`);
  return { main: make(n, "df"), extra: make(n / 10, "new") };
}

/** Gets and finishes `count` keys, one worker; `onKey` decides what a key's processing adds. */
async function drain(q: Queue, count: number, onKey?: (key: string) => boolean): Promise<number> {
  let handled = 0;
  while (handled < count) {
    const key = await q.get();
    if (key === undefined) throw new Error("queue shut down while draining");
    if (!onKey || onKey(key)) handled++;
    q.done(key);
  }
  return handled;
}

/** A shape: runs on a fresh queue and returns the keys handled (checked equal for both). */
interface Shape {
  name: string;
  what(n: number): string;
  /** Whether the queue has a metrics registry (default true). */
  metrics?: boolean;
  run(q: Queue, keys: Keys): Promise<number>;
}

const SHAPES: Shape[] = [
  {
    name: "plain",
    what: (n) => `add ${n} keys, then get/done all`,
    run: (q, { main }) => {
      for (const k of main) q.add(k);
      return drain(q, main.length);
    },
  },
  {
    name: "plain-no-metrics",
    what: (n) => `add ${n} keys, then get/done all, without a metrics registry: the queue's own cost`,
    metrics: false,
    run: (q, { main }) => {
      for (const k of main) q.add(k);
      return drain(q, main.length);
    },
  },
  {
    name: "relist-backoff",
    what: (n) => `${n} keys added with afterMs 1-16 ms, then drained`,
    run: (q, { main }) => {
      main.forEach((k, i) => q.add(k, { afterMs: 1 + (i % 16) }));
      return drain(q, main.length);
    },
  },
  {
    name: "delayed-then-changed",
    what: (n) => `${n} keys added with afterMs 60 s, then a plain add of each, then drained`,
    run: (q, { main }) => {
      for (const k of main) q.add(k, { afterMs: 60_000 });
      for (const k of main) q.add(k);
      return drain(q, main.length);
    },
  },
  {
    name: "failure-storm",
    what: (n) => `${n} keys, each failing 3 times (rate-limited add, 1 ms base) before it succeeds`,
    run: (q, { main }) => {
      for (const k of main) q.add(k);
      return drain(q, main.length, (key) => {
        if (q.numRequeues(key) < 3) {
          q.add(key, { rateLimited: true });
          return false;
        }
        q.forget(key);
        return true;
      });
    },
  },
  {
    name: "priorities",
    what: (n) =>
      `${n} keys at LOW_PRIORITY; half served; ${n / 5} raised to 0 and ${n / 10} new at 10; drained`,
    run: async (q, { main, extra }) => {
      for (const k of main) q.add(k, { priority: LOW_PRIORITY });
      let handled = await drain(q, main.length / 2);
      // Changes: a key already served is queued again, one still waiting moves up.
      for (let i = 0; i < main.length; i += 5) q.add(main[i]);
      for (const k of extra) q.add(k, { priority: 10 });
      while (q.len() > 0) handled += await drain(q, 1);
      return handled;
    },
  },
];

/** One run's figures: wall and CPU milliseconds, keys handled. */
interface Run {
  wallMs: number;
  cpuMs: number;
  handled: number;
}

/** One measured run of a shape on a fresh queue. No forced GC before it: it doubles the run's cost. */
async function measure(make: MakeQueue, shape: Shape, keys: Keys): Promise<Run> {
  const q = make(shape.metrics ?? true);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const handled = await shape.run(q, keys);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, handled };
}

type Samples = Record<"old" | "new", { wall: number[]; cpu: number[] }>;

/** "median (min–max)" of the samples, and the new/old ratio of the medians. */
function cells(s: Samples, figure: "wall" | "cpu"): string[] {
  const [o, n] = [s.old[figure], s.new[figure]];
  return [
    `${fmt(median(o))} (${range(o)})`,
    `${fmt(median(n))} (${range(n)})`,
    fmt(median(n) / median(o), 2),
  ];
}

/** Runs the benchmark and writes bench/results/queue.md (or tmp/queue.md for `--small`). */
export async function queue(ctx?: BenchContext): Promise<void> {
  const argv = process.argv.slice(2);
  const small = ctx?.sizes.small ?? argv.includes("--small");
  const option = (name: string) =>
    ctx?.options[name] ?? argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const rounds = Number(option("rounds") ?? 21);
  const warmup = 3;
  const n = small ? 1000 : 10_000;
  const machine = await machineInfo();
  const impls = implementations(await loadBaseline());
  const samples: Record<string, Samples> = {};
  for (const shape of SHAPES) {
    const s: Samples = samples[shape.name] = { old: { wall: [], cpu: [] }, new: { wall: [], cpu: [] } };
    for (let round = 0; round < warmup + rounds; round++) {
      const order = round % 2 ? [...impls].reverse() : impls;
      const handled: number[] = [];
      for (const impl of order) {
        const run = await measure(impl.make, shape, makeKeys(n));
        handled.push(run.handled);
        if (round < warmup) continue;
        s[impl.name].wall.push(run.wallMs);
        s[impl.name].cpu.push(run.cpuMs);
      }
      if (handled[0] !== handled[1]) {
        throw new Error(`${shape.name}: old and new handled ${handled.join(" vs ")}`);
      }
    }
    console.log(`  ${shape.name}: wall ${cells(s, "wall").join(" | ")}; cpu ${cells(s, "cpu").join(" | ")}`);
  }
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
  const runtime = deno ? machine.deno : `Bun ${process.versions.bun}`;
  const body = [
    `${runtime}; real clock; ${n} keys in 10 namespaces. One process, old and new interleaved (the order`,
    `alternating each round), ${warmup} warm-up rounds each dropped, then ${rounds} measured rounds each; medians in`,
    `ms (min–max). "old" is lib/runtime/queue.ts of ${BASELINE} (loaded from its sources), "new" the working tree's.`,
    "Every queue has a metrics registry, as a controller's has, except in the shape marked no-metrics. Wall time",
    "includes the waits on deadlines and any time the process was not scheduled; CPU time is the process's",
    "(all its threads, garbage collection included). The machine is shared (see the load average): compare",
    "the ratios of one run, not absolute figures across runs.",
    "",
    "| shape | what | old wall | new wall | new / old wall | old CPU | new CPU | new / old CPU |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...SHAPES.map((shape) => {
      const s = samples[shape.name];
      return `| ${shape.name} | ${shape.what(n)} | ${cells(s, "wall").join(" | ")} | ${
        cells(s, "cpu").join(" | ")
      } |`;
    }),
  ];
  writeResults({
    name: deno ? "queue" : "queue-bun",
    title: `Work queue: the queue on heaps against the queue before the redesign (${BASELINE})`,
    command: ctx?.command ?? `${deno ? "deno run -A" : "bun"} bench/queue.ts ${argv.join(" ")}`.trim(),
    machine,
    small,
    body,
    data: { n, rounds, warmup, samples },
    summary: SHAPES.map((shape) => ({
      figure: `Work queue, ${n} keys, ${shape.name}: CPU time new / old`,
      target: "informational (new no slower: at most 1)",
      value: cells(samples[shape.name], "cpu")[2],
      met: null,
    })),
  });
}

if (import.meta.main) await queue();
