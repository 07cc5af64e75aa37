/**
 * Benchmark 6, failover with two replicas (leader election on, default timings: lease 15 s,
 * renew deadline 10 s, retry period 2 s): start replica A, wait until it leads, start standby B,
 * wait until its caches are synced; then send the leader SIGTERM (graceful: it drains and releases
 * the Lease) or SIGKILL (the Lease must expire), create a DataFlow right after, and time until its
 * ConfigMap appears (a watch), plus B's "became leader" and first "reconciled" log lines. The
 * ConfigMap's writer is checked in both replicas' debug logs, and whether the ServiceAccount may watch
 * its Lease (what lets a standby take over at once after a release) is asked of the API server. Targets: SIGTERM < 2 s; SIGKILL <
 * lease duration + 2 x retry period (19 s).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { repoRoot } from "../tests/e2e/manifests.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import { builtin } from "../lib/kube/resources.ts";
import { DataFlowType } from "../lib/dataflow/names.ts";
import { Registry } from "../lib/observe/metrics.ts";
import { Informer } from "../lib/runtime/mod.ts";
import { freshNamespace } from "../tests/controlplane/env.ts";
import { OPERATOR_NAMESPACE } from "../tests/e2e/install.ts";
import type { BenchContext } from "./lib/context.ts";
import { machineInfo } from "./lib/machine.ts";
import { type BenchOperator, commandOf, type Runtime, startOperator } from "./lib/operator.ts";
import { loggedAt, logLines } from "./lib/probe.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, range } from "./lib/stats.ts";
import { benchDataFlow } from "./lib/writer.ts";

const LEASE_MS = 15_000, RETRY_MS = 2_000;
/** Each replica's output, kept for a look at outliers (git-ignored). */
const LOG_DIR = join(repoRoot, "bench", "results", "tmp", "failover-logs");
type Mode = "SIGTERM" | "SIGKILL";

interface Sample {
  mode: Mode;
  /** ms from the signal until the benchmark's create of the new DataFlow returned. */
  createdMs: number;
  /** ms from the signal to: B leading, B's first reconcile, the new DataFlow's ConfigMap seen by a watch. */
  leaderMs: number;
  firstReconcileMs: number;
  configMapMs: number;
  /** Which replica's log shows the ConfigMap's POST. */
  writtenBy: string;
  leaderExit: number;
  /** The old leader's shutdown steps, ms after the signal (SIGTERM only). */
  oldLeader: Record<string, number | undefined>;
}

/**
 * Once an informer of ConfigMap `name` in `ns` has synced (list, then watch from the list's
 * resourceVersion, so nothing is missed): `seen` resolves with Date.now() when the ConfigMap appears.
 */
async function configMapSeen(
  client: KubeClient,
  ns: string,
  name: string,
  signal: AbortSignal,
): Promise<{ seen: Promise<number> }> {
  const informer = new Informer(client, builtin.ConfigMap, {
    namespace: ns,
    fieldSelector: `metadata.name=${name}`,
    name: "bench-failover-cm",
    registry: new Registry(),
  });
  const seen = new Promise<number>((resolve) => informer.on({ add: () => resolve(Date.now()) }));
  void informer.start(signal).catch(() => {});
  await informer.waitForSync(signal);
  // Wrapped: an async function returning the promise itself would make the caller await the ConfigMap.
  return { seen: seen.finally(() => informer.stop()) };
}

/** Whether the replica's debug log shows a POST of a ConfigMap into `ns` (only the new DataFlow's is made there). */
function wroteConfigMap(r: BenchOperator, ns: string): boolean {
  return logLines(r.op).some((l) =>
    l.message.startsWith("API write") && l.message.includes("POST") &&
    l.message.includes(`/namespaces/${ns}/configmaps`)
  );
}

/** ms after `t0` of the first log line of `op` matching `pattern` at or after t0 (undefined when none). */
function lineAfter(r: BenchOperator, pattern: RegExp, t0: number): number | undefined {
  const line = logLines(r.op).find((l) => l.at >= t0 && pattern.test(l.message));
  return line ? line.at - t0 : undefined;
}

async function once(ctx: BenchContext, mode: Mode, run: number, runtime: Runtime): Promise<Sample> {
  const { cp, admin, identity } = await ctx.cluster("failover");
  const ns = await freshNamespace(cp, `fo-${mode.toLowerCase().replace(/\W/g, "")}`);
  const signal = mode === "SIGKILL" ? "SIGKILL" : "SIGTERM";
  const start = (who: string) =>
    startOperator({
      runtime,
      kubeconfig: identity.kubeconfigPath,
      leaderElect: true,
      args: [`--namespace=${ns}`, `--leader-election-namespace=${OPERATOR_NAMESPACE}`],
      env: { POD_NAME: `${who}-${signal.toLowerCase()}-${run}`, LOG_LEVEL: "debug" },
      name: who,
      logFile: join(LOG_DIR, `${mode}-${run + 1}-${who}.log`),
    });
  const a = await start("replica-a");
  let b: BenchOperator | undefined;
  const ac = new AbortController();
  try {
    await loggedAt(a.op, /^became leader/, 1, 60_000);
    b = await start("replica-b");
    await loggedAt(b.op, /^waiting to acquire lease/, 1, 30_000);
    // The standby's caches: its informers start at once, leader or not.
    await loggedAt(b.op, /^listed \d+ objects of dataflows/, 1, 30_000);
    const df = `fo-${run}`;
    const cm = `dataflow-${df}-spec`;
    console.log(`  ${mode} ${run + 1}: A leads, B waits; watching ${cm}`);
    const { seen } = await configMapSeen(admin, ns, cm, ac.signal);
    const t0 = Date.now();
    process.kill(a.pid, signal);
    await admin.create(DataFlowType, benchDataFlow(df, ns), { namespace: ns });
    const createdMs = Date.now() - t0;
    const cmAt = await Promise.race([
      seen,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no ConfigMap ${cm} within 60 s of ${mode}`)), 60_000)
      ),
    ]).catch((err) => {
      throw new Error(`${err.message}\n--- A:\n${a.op.tail(15)}\n--- B:\n${b!.op.tail(15)}`);
    });
    const leaderAt = await loggedAt(b.op, /^became leader/, 1, 60_000);
    const firstAt = await loggedAt(b.op, /^reconciled /, 1, 60_000);
    const leaderExit = await a.op.exited();
    const writers = [
      wroteConfigMap(a, ns) ? "A (old leader)" : "",
      wroteConfigMap(b, ns) ? "B (standby)" : "",
    ]
      .filter(Boolean);
    return {
      mode,
      createdMs,
      leaderMs: leaderAt - t0,
      firstReconcileMs: firstAt - t0,
      configMapMs: cmAt - t0,
      writtenBy: writers.join(" + ") || "neither log shows it",
      leaderExit,
      oldLeader: {
        "shutting down": lineAfter(a, /^shutting down/, t0),
        "released lease": lineAfter(a, /^released lease/, t0),
        "shut down cleanly": lineAfter(a, /^shut down cleanly/, t0),
      },
    };
  } finally {
    ac.abort();
    await a.op.stop("SIGKILL", 1000);
    await b?.op.stop();
  }
}

/** Runs the failover benchmark and writes bench/results/failover.md. */
export async function failover(ctx: BenchContext, runtime: Runtime = "bun"): Promise<void> {
  const { admin, cp } = await ctx.cluster("failover");
  const machine = await machineInfo(admin);
  const samples: Sample[] = [];
  // Warm-up: the first DataFlow create of a fresh API server takes ~2 s (seen in this benchmark before it
  // had this step), which would otherwise land inside the first run's figures.
  const warm = await freshNamespace(cp, "fo-warm");
  await admin.create(DataFlowType, benchDataFlow("warm", warm), { namespace: warm });
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  for (const mode of ["SIGTERM", "SIGKILL"] as Mode[]) {
    for (let run = 0; run < ctx.sizes.runs; run++) {
      const s = await once(ctx, mode, run, runtime);
      samples.push(s);
      console.log(
        `  ${mode} ${
          run + 1
        }: DataFlow created ${s.createdMs} ms, leader ${s.leaderMs} ms, first reconcile ${s.firstReconcileMs} ms, ConfigMap ${s.configMapMs} ms (${s.writtenBy})`,
      );
    }
  }
  const of = (mode: Mode) => samples.filter((s) => s.mode === mode);
  const med = (mode: Mode, f: (s: Sample) => number) => median(of(mode).map(f));
  const limit = { SIGTERM: 2000, SIGKILL: LEASE_MS + 2 * RETRY_MS };
  const label = { SIGTERM: "SIGTERM", SIGKILL: "SIGKILL" };
  const canWatch = await cp.kubectl([
    "auth",
    "can-i",
    "watch",
    "leases.coordination.k8s.io/dataflow-operator.dataflow.io",
    "-n",
    OPERATOR_NAMESPACE,
    `--as=system:serviceaccount:${OPERATOR_NAMESPACE}:dataflow-operator`,
  ]);
  const body = [
    `Two replicas of \`${commandOf(runtime)}\` with leader election (Lease dataflow-operator.dataflow.io in`,
    `${OPERATOR_NAMESPACE}, default lease ${LEASE_MS / 1000} s, renew deadline 10 s, retry period ${
      RETRY_MS / 1000
    } s), each`,
    `\`--namespace\`-scoped to a fresh namespace per run, LOG_LEVEL=debug. The signal goes to the leader's own process;`,
    `a DataFlow is created right after it. Times in ms from the signal; ${ctx.sizes.runs} runs per signal, medians (range).`,
    "",
    `| Signal | Standby leads | Standby's first reconcile | New DataFlow's ConfigMap seen | Target | Met | ConfigMap written by | Leader's exit code |`,
    `|---|---|---|---|---|---|---|---|`,
    ...(["SIGTERM", "SIGKILL"] as Mode[]).map((m) => {
      const first = med(m, (s) => s.firstReconcileMs);
      return `| ${label[m]} | ${med(m, (s) => s.leaderMs)} (${
        range(of(m).map((s) => s.leaderMs), 0)
      }) | ${first} (${range(of(m).map((s) => s.firstReconcileMs), 0)}) | ${med(m, (s) => s.configMapMs)} (${
        range(of(m).map((s) => s.configMapMs), 0)
      }) | < ${limit[m]} | **${
        first < limit[m] && med(m, (s) => s.configMapMs) < limit[m] ? "yes" : "no"
      }** | ${[...new Set(of(m).map((s) => s.writtenBy))].join("; ")} | ${
        of(m).map((s) => s.leaderExit).join(", ")
      } |`;
    }),
    "",
    `SIGTERM, where the time goes (ms after the signal, per run: the old leader's log, then the standby's):`,
    "",
    ...of("SIGTERM").map((s, i) =>
      `- run ${i + 1}: ${
        Object.entries(s.oldLeader).map(([k, v]) => `${k} ${v ?? "–"}`).join(", ")
      }; DataFlow created ${s.createdMs}; standby leads ${s.leaderMs}, first reconcile ${s.firstReconcileMs}`
    ),
    "",
    `- Each replica's output: bench/results/tmp/failover-logs/ (git-ignored).`,
    `- SIGTERM: the leader drains, flushes events and releases the Lease (empty holder). A standby wakes at once if its`,
    `  watch on the Lease works, otherwise at its next poll, one jittered retry period (2-4 s) later. May the operator's`,
    `  ServiceAccount (deploy/rbac.yaml as installed) watch its Lease? \`kubectl auth can-i watch\` says: ${
      canWatch.stdout.trim() || canWatch.stderr.trim()
    }. SIGKILL: nobody releases; the standby takes over once the lease has expired (${
      fmt(LEASE_MS / 1000, 0)
    } s after the last renewal) at its next retry.`,
  ];
  writeResults({
    summary: (["SIGTERM", "SIGKILL"] as Mode[]).map((m) => {
      const first = med(m, (s) => s.firstReconcileMs);
      return {
        figure: `6. Failover, ${label[m]}: signal to the standby's first reconcile (ConfigMap seen)`,
        target: `< ${limit[m]} ms`,
        value: `${first} ms (${med(m, (s) => s.configMapMs)} ms)`,
        met: first < limit[m] && med(m, (s) => s.configMapMs) < limit[m],
      };
    }),
    name: "failover",
    title: "Benchmark 6: failover with two replicas",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { runtime, samples },
  });
}
