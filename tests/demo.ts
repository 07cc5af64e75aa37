/**
 * `deno task demo`: the DataFlow operator end to end on a private, local control plane (never a
 * user's cluster). It starts kube-apiserver + etcd (building them on first use, with progress),
 * installs the CRD and deploy/rbac.yaml, applies deploy/samples/*.yaml, runs the operator as a
 * separate process under its own least-privilege ServiceAccount, stands in for the absent
 * kubelet by marking processor Deployments ready, shows `kubectl get df` and
 * `kubectl describe dataflow` with their Events, and serves the web console (with writes, as the
 * control plane's admin) on http://127.0.0.1:8080/ (another free port when 8080 is taken).
 *
 *   deno task demo            run until Ctrl-C, which stops the operator and the control plane
 *                             and removes every temporary directory (whenever it comes: a Ctrl-C
 *                             while the control plane starts waits for it to be up, then stops it)
 *   deno task demo --once     (or DEMO_ONCE=1) show the output and exit: a CI smoke test; exits 1
 *                             when the samples do not reach their expected phases
 *
 * Env: DATAFLOW_OPERATOR_CMD (default `deno run -A mod.ts`), LOG_LEVEL for the operator (info).
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { clientFor } from "./controlplane/env.ts";
import { ControlPlane } from "./controlplane/harness.ts";
import { installOperatorIdentity } from "./e2e/install.ts";
import { KubeletStandIn } from "./e2e/kubelet.ts";
import { repoRoot } from "./e2e/manifests.ts";
import { operatorCommand, OperatorProcess } from "./e2e/operator-process.ts";
import { ConsoleProcess } from "./browser/console-process.ts";
import { freePort } from "./controlplane/harness.ts";
import { connect } from "node:net";

const NAMESPACE = "dataflow-demo";
const SAMPLES = ["kafka-to-postgresql", "with-transformations", "missing-secret"];
/** The phase each sample DataFlow should reach, which --once checks. */
const EXPECTED: Record<string, string> = {
  "orders-to-postgresql": "Running",
  "clickstream-cleanup": "Running",
  "audit-log-archive": "Error",
};

const { values } = parseArgs({
  options: { once: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  strict: true,
});
if (values.help) {
  console.log("usage: deno task demo [--once]   (DEMO_ONCE=1 is the same as --once)");
  process.exit(0);
}
const once = values.once || process.env.DEMO_ONCE === "1";

const bold = (s: string) => process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s;
const step = (s: string) => console.log(`\n${bold(`==> ${s}`)}`);

let cp: ControlPlane | undefined;
let operator: OperatorProcess | undefined;
let kubelet: KubeletStandIn | undefined;
let consoleProc: ConsoleProcess | undefined;
let consoleStarting: Promise<ConsoleProcess> | undefined;
let cleaning: Promise<void> | undefined;
// What is being started when a signal arrives: cleanup waits for it, then stops it.
let cpStarting: Promise<ControlPlane> | undefined;
let operatorStarting: Promise<OperatorProcess> | undefined;
let interrupted = false;

/** Thrown by the main flow once a signal has handed everything over to {@link cleanup}. */
class Interrupted extends Error {}

/** Stops the main flow after a signal: it must start nothing more (cleanup may be done with it). */
function checkpoint(): void {
  if (interrupted) throw new Interrupted("interrupted");
}

/** Stops everything the demo started, in order; safe to call more than once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    kubelet?.stop();
    const web = consoleProc ?? await consoleStarting?.catch(() => undefined);
    if (web) {
      console.log("stopping the console");
      await web.stop("SIGTERM");
    }
    const op = operator ?? await operatorStarting?.catch(() => undefined);
    if (op?.running) {
      console.log("stopping the operator (SIGTERM: it drains, flushes Events and exits)");
      const code = await op.stop("SIGTERM", 15_000);
      console.log(`operator exited with ${code}`);
    }
    if (!cp && cpStarting) console.log("waiting for the control plane to come up, to stop it");
    const plane = cp ?? await cpStarting?.catch(() => undefined);
    if (plane) {
      console.log("stopping the control plane and removing its data");
      await plane.stop();
    }
    await rm(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Whether nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });
}

async function kubectl(args: string[]): Promise<void> {
  console.log(`\n$ kubectl ${args.join(" ")}`);
  const r = await cp!.kubectl(args);
  process.stdout.write(r.stdout);
  if (r.code !== 0) process.stdout.write(r.stderr);
}

/** An Event reason each sample should show (Events are written asynchronously, so wait for them). */
const EXPECTED_EVENT: Record<string, string> = {
  "orders-to-postgresql": "DeploymentCreated",
  "clickstream-cleanup": "DeploymentCreated",
  "audit-log-archive": "SecretResolutionFailed",
};

/** The Event reasons recorded per DataFlow name in the demo namespace. */
async function eventReasons(): Promise<Record<string, string[]>> {
  const r = await cp!.kubectl(["get", "events", "-n", NAMESPACE, "-o", "json"]);
  const out: Record<string, string[]> = {};
  if (r.code !== 0) return out;
  for (
    const e of JSON.parse(r.stdout).items as Array<
      { reason: string; involvedObject: { kind: string; name: string } }
    >
  ) {
    if (e.involvedObject.kind === "DataFlow") (out[e.involvedObject.name] ??= []).push(e.reason);
  }
  return out;
}

/** Waits until every sample has its expected phase and Event; returns the phases seen last. */
async function waitForPhases(timeoutMs: number): Promise<{ ok: boolean; phases: Record<string, string> }> {
  const deadline = Date.now() + timeoutMs;
  let phases: Record<string, string> = {};
  while (Date.now() < deadline) {
    const r = await cp!.kubectl(["get", "dataflows", "-n", NAMESPACE, "-o", "json"]);
    if (r.code === 0) {
      const items = JSON.parse(r.stdout).items as Array<
        { metadata: { name: string }; status?: { phase?: string } }
      >;
      phases = Object.fromEntries(items.map((d) => [d.metadata.name, d.status?.phase ?? ""]));
      if (Object.entries(EXPECTED).every(([n, p]) => phases[n] === p)) {
        const reasons = await eventReasons();
        if (Object.entries(EXPECTED_EVENT).every(([n, r]) => reasons[n]?.includes(r))) {
          return { ok: true, phases };
        }
      }
    }
    if (operator && !operator.running) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return { ok: false, phases };
}

async function main(): Promise<number> {
  console.log(`demo pid ${process.pid}; temporary directory ${workDir} (removed on exit)`);
  step("starting a local control plane (kube-apiserver + etcd; built on first use, which takes a while)");
  const started = Date.now();
  cpStarting = ControlPlane.start();
  cp = await cpStarting;
  checkpoint();
  console.log(`control plane up at ${cp.info.server} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`temporary directories: ${cp.info.dir} ${workDir} (removed on exit); demo pid ${process.pid}`);

  step("installing the DataFlow CRD, the operator's ServiceAccount and deploy/rbac.yaml");
  const identity = await installOperatorIdentity(cp, 24 * 3600); // a token that outlives a long demo
  checkpoint();
  console.log(`the operator will run as ${identity.name}, with deploy/rbac.yaml's permissions only`);

  step(`applying deploy/samples/*.yaml to namespace ${NAMESPACE}`);
  await cp.kubectlOk(["create", "namespace", NAMESPACE]);
  for (const s of SAMPLES) {
    checkpoint();
    process.stdout.write(
      await cp.kubectlOk(["apply", "-n", NAMESPACE, "-f", join(repoRoot, "deploy", "samples", `${s}.yaml`)]),
    );
  }
  checkpoint();

  step(`starting the operator: ${operatorCommand().join(" ")} run ...`);
  const logFile = join(workDir, "operator.log");
  operatorStarting = OperatorProcess.start({
    kubeconfig: identity.kubeconfigPath,
    args: ["--leader-elect=false"],
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
      PROCESSOR_IMAGE: "ghcr.io/dataflow-operator/dataflow:latest",
      // The processor pods' init container render-spec (deploy/operator.yaml's value).
      OPERATOR_IMAGE: "dataflow-operator:0.1.0",
      OPERATOR_NAMESPACE: "dataflow-system",
      // The Events' reportingInstance (in a cluster the pod name comes from the downward API).
      POD_NAME: "dataflow-operator-demo",
    },
    logFile,
  });
  operator = await operatorStarting;
  checkpoint();
  await operator.waitHealthy("/readyz", 90_000);
  checkpoint();
  console.log(
    `operator ready (health ${operator.healthUrl}/readyz, metrics ${operator.metricsUrl}); log: ${logFile}`,
  );

  step("standing in for the kubelet: marking processor Deployments ready");
  kubelet = new KubeletStandIn(clientFor(cp), { namespace: NAMESPACE, intervalMs: 1000 });
  kubelet.start();
  const { ok, phases } = await waitForPhases(60_000);

  step("starting the web console (dataflow-operator console, writes enabled, as the admin)");
  const port = await portFree(8080) ? 8080 : await freePort();
  consoleStarting = ConsoleProcess.start([
    `--listen=127.0.0.1:${port}`,
    `--kubeconfig=${cp.info.admin.kubeconfigPath}`,
    "--enable-writes",
    `--operator-metrics-url=${operator.metricsUrl}`,
  ]);
  consoleProc = await consoleStarting;
  checkpoint();
  console.log(`console: ${consoleProc.url}/`);

  step("what a user sees");
  await kubectl(["get", "df", "-n", NAMESPACE]);
  await kubectl(["get", "configmaps,deployments", "-n", NAMESPACE, "-l", "dataflow.dataflow.io/owned=true"]);
  // One describe per DataFlow, as the events page documents it: kubectl 1.36 leaves the Events
  // section out when one `describe` call prints several custom resources.
  for (const name of Object.keys(EXPECTED).sort()) {
    await kubectl(["describe", "dataflow", "-n", NAMESPACE, name]);
  }
  await kubectl(["get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"]);

  if (!ok) {
    console.error(
      `\nthe samples did not reach their expected phases: want ${JSON.stringify(EXPECTED)}, ` +
        `got ${JSON.stringify(phases)}`,
    );
    if (kubelet.lastError) console.error(`kubelet stand-in: ${kubelet.lastError.message}`);
    console.error(`operator output (last lines):\n${operator.tail(30)}`);
    return 1;
  }
  if (once) return 0;

  const kc = `${join(cp.info.binDir, "kubectl")} --kubeconfig=${cp.info.admin.kubeconfigPath}`;
  step("the demo keeps running: open the console, or try it in another terminal");
  console.log(`  console: ${consoleProc.url}/   (DataFlows live; create, edit, delete; the operator page)`);
  console.log(`  ${kc} get df -n ${NAMESPACE} -w`);
  console.log(
    `  ${kc} -n ${NAMESPACE} create secret generic audit-kafka-credentials --from-literal=password=s3cret`,
  );
  console.log(`      (audit-log-archive heals: Error -> Running)`);
  console.log(
    `  ${kc} -n ${NAMESPACE} delete df clickstream-cleanup     (ResourcesDeleted, finalizer removed)`,
  );
  console.log(`  tail -f ${logFile}`);
  console.log(
    `\nPress Ctrl-C to stop the console, the operator and the control plane and remove everything.`,
  );
  await new Promise<void>(() => {}); // until a signal handler exits the process
  return 0;
}

// Output piped into a reader that has gone (`deno task demo | head`) must not end the demo before
// its cleanup.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) {
      console.error("second interrupt: exiting without waiting");
      process.exit(130);
    }
    interrupted = true;
    console.log(`\n${signal}: cleaning up`);
    cleanup().then(() => process.exit(0), (err) => {
      console.error(`cleanup failed: ${err}`);
      process.exit(1);
    });
  });
}

// Created before anything else (and synchronously, after the handlers): a signal at any later
// point finds it and removes it.
const workDir = mkdtempSync(join(tmpdir(), "dataflow-demo-"));

let code = 1;
try {
  code = await main();
} catch (err) {
  // After a signal the main flow fails because cleanup stopped what it was using: not news.
  if (!interrupted) {
    console.error(`\ndemo failed: ${(err as Error).stack ?? err}`);
    if (operator) console.error(`operator output (last lines):\n${operator.tail(30)}`);
  }
}
// After a signal its handler exits once cleanup is done; never exit before that here.
try {
  await cleanup();
} catch (err) {
  console.error(`cleanup failed: ${err}`);
  code = 1;
}
process.exit(interrupted ? 0 : code);
