/**
 * Bounded memory under abuse (issue 11): the Bun binary runs inside a 512 MiB memory cgroup (the
 * shipped limit; cgroup v1 memory controller, created under /sys/fs/cgroup/memory as root and
 * removed afterwards) while tenants create 2,000 small DataFlows and 200 of the largest size the
 * CRD admits (every string at its maxLength, every list full), update every one of them (a new
 * spec: every ConfigMap rewritten) and delete them all. Reported: the process's peak RSS (VmHWM),
 * the cgroup's peak usage (memory.max_usage_in_bytes, page cache included) and its OOM kills
 * (memory.oom_control), and the operator's restarts (must be none).
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { KubeClient, KubeObject } from "../lib/kube/client.ts";
import { DataFlowType } from "../lib/dataflow/names.ts";
import { Registry } from "../lib/observe/metrics.ts";
import { Informer } from "../lib/runtime/mod.ts";
import { type Json, worstCaseSpec } from "../tests/unit/dataflow/worst-case.ts";
import { freshNamespace } from "../tests/controlplane/env.ts";
import type { BenchContext } from "./lib/context.ts";
import { ConvergenceWatch } from "./lib/converge.ts";
import { machineInfo } from "./lib/machine.ts";
import { binaryAt, BUN_BINARY, commitOf, ensureBunBinary, startOperator } from "./lib/operator.ts";
import { memoryOf } from "./lib/proc.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, mib, pool, sleep } from "./lib/stats.ts";
import { benchDataFlow, names } from "./lib/writer.ts";

/** The shipped memory limit of the operator's container (deploy/operator.yaml, the chart). */
const LIMIT_BYTES = 512 * 1024 * 1024;
const SMALL = 2000;
const LARGE = 200;
const CGROUP_ROOT = "/sys/fs/cgroup/memory";

/** Drops every SecretRef (no Secrets exist here) and the placement fields (the policy refuses them). */
function runnable(value: Json): Json {
  if (Array.isArray(value)) return value.map(runnable);
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !k.endsWith("SecretRef")).map(([k, v]) => [k, runnable(v)]),
  );
}

/**
 * The largest spec the CRD admits that the operator also runs: the worst case of the CRD's limits
 * (every string at its maxLength, every list full: tests/unit/dataflow/worst-case.ts) without its
 * SecretRefs and placement fields; `version` changes the Avro schema's first characters.
 */
function largestSpec(version: number): Record<string, Json> {
  const { nodeSelector: _n, tolerations: _t, resources: _r, affinity: _a, ...rest } = worstCaseSpec();
  const spec = runnable(rest) as { source: { kafka: { avroSchema: string; format?: string } } };
  const avro = spec.source.kafka.avroSchema;
  spec.source.kafka.avroSchema = `v${version}` + avro.slice(2);
  spec.source.kafka.format = "avro";
  return spec as unknown as Record<string, Json>;
}

function largeDataFlow(name: string, namespace: string, version: number): KubeObject {
  return {
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace },
    spec: largestSpec(version),
  } as KubeObject;
}

/** A memory cgroup limited to {@link LIMIT_BYTES}, and a launcher script that runs a command inside it. */
function makeCgroup(dir: string, binary: string): { path: string; launcher: string; remove: () => void } {
  if (process.getuid?.() !== 0) throw new Error("bench abuse creates a memory cgroup: run it as root");
  const path = join(CGROUP_ROOT, `dataflow-bench-abuse-${process.pid}`);
  mkdirSync(path);
  writeFileSync(join(path, "memory.limit_in_bytes"), String(LIMIT_BYTES));
  const launcher = join(dir, "in-cgroup.sh");
  writeFileSync(
    launcher,
    `#!/bin/sh\necho $$ > ${path}/cgroup.procs\nexec ${binary} "$@"\n`,
    { mode: 0o755 },
  );
  return {
    path,
    launcher,
    remove: () => {
      for (let i = 0; i < 50; i++) {
        try {
          return rmdirSync(path);
        } catch { /* its last process is still exiting */ }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      }
    },
  };
}

function oomKills(cgroup: string): number {
  const m = readFileSync(join(cgroup, "memory.oom_control"), "utf8").match(/oom_kill (\d+)/);
  return m ? Number(m[1]) : 0;
}

/** Generations and observed generations of a namespace's DataFlows, from a watch (no spec kept). */
function generations(admin: KubeClient, namespace: string): Informer<KubeObject> {
  const informer = new Informer<KubeObject>(admin, DataFlowType, {
    namespace,
    name: `bench-generations-${namespace}`,
    registry: new Registry(),
    transform: (o) => ({ metadata: o.metadata, status: o.status }) as KubeObject,
  });
  void informer.start().catch(() => {});
  return informer;
}

/** Waits until `done` holds for the DataFlows `informers` see, polling their caches. */
async function until(what: string, informers: Informer<KubeObject>[], done: (dfs: KubeObject[]) => boolean) {
  const deadline = Date.now() + 1_800_000;
  while (!done(informers.flatMap((i) => i.list()))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 min`);
    await sleep(250);
  }
}

type Observed = { metadata: { generation?: number }; status?: { observedGeneration?: number } };
const observed = (dfs: KubeObject[]) =>
  (dfs as unknown as Observed[]).every((d) => d.status?.observedGeneration === d.metadata.generation);

/** Benchmark `abuse`. */
export async function abuse(ctx: BenchContext): Promise<void> {
  const small = ctx.sizes.small ? SMALL / 10 : SMALL;
  const large = ctx.sizes.small ? LARGE / 10 : LARGE;
  const specBytes = JSON.stringify(largestSpec(0)).length;
  // `--ref=<commit>`: the binary of that commit (dist/at-<commit>), else the working tree's.
  const binary = ctx.options.ref ? binaryAt(ctx.options.ref) : (await ensureBunBinary(), BUN_BINARY);
  const { cp, admin, identity } = await ctx.cluster("abuse");
  const machine = await machineInfo(admin);
  const cgroup = makeCgroup(cp.info.dir, binary);
  const smallNs = [await freshNamespace(cp, "tenant-small-a"), await freshNamespace(cp, "tenant-small-b")];
  const largeNs = await freshNamespace(cp, "tenant-large");
  const watches = [...smallNs, largeNs].map((ns) => new ConvergenceWatch(admin, ns));
  await Promise.all(watches.map((w) => w.start()));
  const gens = [...smallNs, largeNs].map((ns) => generations(admin, ns));
  await Promise.all(gens.map((g) => g.waitForSync()));
  const smallNames = names("df", small / 2), largeNames = names("big", large);
  const phases: { phase: string; seconds: number; rss: number; hwm: number }[] = [];
  let peakRss = 0, restarts = 0, cgroupPeak = 0, kills = 0;

  const { op, pid } = await startOperator({
    runtime: "bun",
    binary: cgroup.launcher,
    kubeconfig: identity.kubeconfigPath,
    args: [`--namespace=${[...smallNs, largeNs].join(",")}`],
    name: "operator-abuse",
  });
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memoryOf(pid).rss);
    } catch {
      restarts++; // the process is gone (OOM-killed): counted, reported, and the run fails below
    }
  }, 100);
  const phase = async (name: string, work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    const m = memoryOf(pid);
    phases.push({ phase: name, seconds: (performance.now() - t0) / 1000, ...m });
    console.log(
      `  ${name}: ${fmt((performance.now() - t0) / 1000)} s, RSS ${mib(m.rss)}, peak ${mib(m.hwm)}`,
    );
    await cp.compactEtcd(); // the history of 1 MB objects would fill etcd's quota
  };
  try {
    await op.waitHealthy("/readyz");
    const write = (version: number) =>
      Promise.all([
        ...smallNs.map((ns) =>
          pool(smallNames, 8, async (n) => {
            const body = benchDataFlow(n, ns) as unknown as {
              spec: { source: { kafka: { topic: string } } };
            };
            body.spec.source.kafka.topic = `orders-v${version}`;
            if (version === 0) {
              await admin.create(DataFlowType, body as unknown as KubeObject, { namespace: ns });
            } else {
              await admin.patch(DataFlowType, n, { spec: body.spec }, { namespace: ns, type: "merge" });
            }
          })
        ),
        pool(largeNames, 2, async (n) => {
          const body = largeDataFlow(n, largeNs, version);
          if (version === 0) await admin.create(DataFlowType, body, { namespace: largeNs });
          else await admin.patch(DataFlowType, n, { spec: body.spec }, { namespace: largeNs, type: "merge" });
        }),
      ]);
    const converged = async () => {
      for (const [i, w] of watches.entries()) {
        await w.waitAll(i < smallNs.length ? smallNames : largeNames, 1_800_000);
      }
    };
    await phase(`create ${small} small + ${large} large`, async () => {
      await write(0);
      await converged();
    });
    await phase("update every DataFlow", async () => {
      await write(1);
      // Converged again: observedGeneration caught up with the new generation everywhere.
      await until("every new generation observed", gens, observed);
    });
    await phase("delete every DataFlow", async () => {
      await Promise.all([
        ...smallNs.map((ns) => pool(smallNames, 8, (n) => admin.delete(DataFlowType, n, { namespace: ns }))),
        pool(largeNames, 2, (n) => admin.delete(DataFlowType, n, { namespace: largeNs })),
      ]);
      await until("every DataFlow gone", gens, (dfs) => dfs.length === 0);
    });
  } finally {
    clearInterval(sampler);
    for (const w of [...watches, ...gens]) w.stop();
    if (op.running) await op.stop("SIGTERM");
    cgroupPeak = Number(readFileSync(join(cgroup.path, "memory.max_usage_in_bytes"), "utf8"));
    kills = oomKills(cgroup.path);
    cgroup.remove();
  }
  const hwm = Math.max(...phases.map((p) => p.hwm));
  writeResults({
    name: "abuse",
    title: `Bounded memory under abuse: ${small} small + ${large} largest DataFlows in a 512 MiB cgroup`,
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body: [
      `The Bun binary (\`--namespace\` the three tenant namespaces, leader election off) in a cgroup v1 memory`,
      `cgroup with memory.limit_in_bytes = 512 MiB. ${small} small DataFlows (two namespaces) and ${large} of the`,
      "largest size the CRD admits (every string at its maxLength, every list full, as",
      "tests/unit/dataflow/worst-case.ts builds it from the CRD; without SecretRefs and placement fields, so that the",
      `operator runs them: ${
        fmt(specBytes / 1024, 0)
      } KiB of spec JSON each) are created, then every spec is changed`,
      "(every ConfigMap rewritten), then all are deleted; each phase",
      "ends when every DataFlow has converged (or is gone). RSS sampled every 100 ms. Operator: " +
      (ctx.options.ref
        ? `the Bun binary of commit ${commitOf(ctx.options.ref)} (--ref).`
        : "the working tree's Bun binary."),
      "",
      "| phase | seconds | RSS at the end (MiB) | peak RSS so far, VmHWM (MiB) |",
      "|---|---|---|---|",
      ...phases.map((p) => `| ${p.phase} | ${fmt(p.seconds)} | ${mib(p.rss)} | ${mib(p.hwm)} |`),
      "",
      `- Peak RSS of the operator: ${mib(hwm)} MiB (VmHWM; the 100 ms samples' maximum ${
        mib(peakRss)
      } MiB). VmHWM`,
      "  counts the executable's file-backed pages too, which the cgroup does not charge when the page cache",
      "  already held them.",
      `- Peak usage of the cgroup (memory.max_usage_in_bytes, page cache included): ${mib(cgroupPeak)} MiB`,
      `- OOM kills in the cgroup: ${kills}; operator gone during the run: ${restarts ? "yes" : "no"}`,
    ],
    data: {
      small,
      large,
      specBytes,
      phases,
      peakRss,
      hwm,
      cgroupPeak,
      kills,
    },
    summary: [{
      figure: `11. Abuse: peak RSS, ${small} small + ${large} largest DataFlows, 512 MiB cgroup`,
      target: "no OOM kill (< 512 MiB)",
      value: `${mib(hwm)} MiB, ${kills} OOM kills`,
      met: kills === 0 && restarts === 0 && hwm < LIMIT_BYTES,
    }],
  });
}
