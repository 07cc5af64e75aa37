/**
 * The operator image, run the way a kubelet runs deploy/operator.yaml's pod: as 65532:65532 on a
 * read-only root with a tmpfs at /tmp, no capabilities, the ServiceAccount's token, ca.crt and
 * namespace mounted at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT
 * pointing at a real kube-apiserver (host network: 127.0.0.1, which its serving certificate
 * covers), POD_NAME and OPERATOR_NAMESPACE set, and no arguments, so the image's own CMD runs.
 * deploy/rbac.yaml is all it may do. The image is built first by `deno task image`'s script (or
 * reused when its recipe matches the current sources); podman missing or a failed build fails
 * this file, nothing is skipped.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFor } from "../controlplane/env.ts";
import { ControlPlane } from "../controlplane/harness.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT } from "../e2e/install.ts";
import { markReady } from "../e2e/kubelet.ts";
import { repoRoot, runCommand } from "../e2e/manifests.ts";
import { parsePrometheus, sumOf } from "../e2e/observe.ts";
import { LEASE_NAME } from "../../lib/dataflow/operator.ts";
import { buildImage, Container, podman, podmanFlags } from "./podman.ts";
import { boundToken, SERVICE_ACCOUNT_MOUNT, ServiceAccountVolume, tokenRejected } from "./service-account.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 900_000 };
/** The namespace of the test's DataFlows. */
const NS = "image-test";
/** The README's container and pod names. */
const CONTAINER = "dataflow-operator", POD_NAME = "dataflow-operator-0";

/** The README's `podman … run` and `podman … stop` lines of its "### The image" section. */
function readmeImageCommands(): { run: string; stop: string } {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("### The image");
  assert.ok(start >= 0, "README.md has no '### The image' section");
  const block = readme.slice(start).match(/```sh\n([\s\S]*?)```/)?.[1] ?? "";
  const lines = block.split("\n").map((l) => l.trim());
  const run = lines.find((l) => /^podman .* run /.test(l));
  const stop = lines.find((l) => /^podman .* stop /.test(l));
  assert.ok(run && stop, `the README's image block has no podman run/stop line:\n${block}`);
  return { run, stop };
}
// The Dockerfile's default arguments: the operator listens on all interfaces, here the host's.
const METRICS_PORT = 9090, HEALTH_PORT = 9091;
const HEALTH = `http://127.0.0.1:${HEALTH_PORT}`;
const METRICS = `http://127.0.0.1:${METRICS_PORT}/metrics`;

let cp: ControlPlane | undefined;
let image: string;
let volume: ServiceAccountVolume | undefined;
let container: Container | undefined;
let scratch: string;
let firstToken: string;

/** True when nothing listens on the port (the operator in the container is about to). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** The Lease's holder and renew time ("" when released), as kubectl shows them. */
async function lease(): Promise<{ holder: string; renewTime: string }> {
  const out = await cp!.kubectlOk(["-n", OPERATOR_NAMESPACE, "get", "lease", LEASE_NAME, "-o", "json"]);
  const spec = JSON.parse(out).spec ?? {};
  return { holder: spec.holderIdentity ?? "", renewTime: spec.renewTime ?? "" };
}

/** The DataFlow's phase once its ConfigMap and Deployment exist and its status is set. */
async function reconciled(name: string): Promise<string | undefined> {
  const get = async (kind: string, n: string) => {
    const r = await cp!.kubectl(["-n", NS, "get", kind, n, "-o", "json"]);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  };
  const df = await get("dataflow", name);
  if (!df?.status?.phase) return undefined;
  if (!await get("configmap", `dataflow-${name}-spec`)) return undefined;
  if (!await get("deployment", `dataflow-${name}`)) return undefined;
  return df.status.phase;
}

/** Waits for `probe` (tests/tools/wait.ts), failing at once when the container has exited. */
function whileRunning<V>(what: string, probe: () => Promise<V | undefined>, timeoutMs = 30_000): Promise<V> {
  return waitFor(what, probe, {
    timeoutMs,
    intervalMs: 250,
    abortIf: async () => await container!.running() ? undefined : "the container exited",
  });
}

/** Runs a step; when it fails, the container's log tail and state are added to the error. */
async function step(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err as Error;
    const state = container ? await container.inspect("{{.State.Status}} exit {{.State.ExitCode}}") : "";
    const logs = container ? await container.logs() : "(no container was started)";
    e.message += `\n--- container ${container?.name ?? ""} (${state}), last log lines ---\n${logs}`;
    throw e;
  }
}

describe("the operator image, run as a kubelet would", T, () => {
  before(async () => {
    image = await buildImage();
    for (const port of [METRICS_PORT, HEALTH_PORT]) {
      assert.ok(
        await portFree(port),
        `port ${port} is in use on this host; the image test runs the operator with host networking on ` +
          "the Dockerfile's default ports 9090 and 9091 (is another image test running?)",
      );
    }
    scratch = await mkdtemp(join(tmpdir(), "dataflow-image-test-"));
    cp = await ControlPlane.start();
    await installOperatorIdentity(cp);
    await cp.kubectlOk(["create", "namespace", NS]);
    firstToken = await boundToken(cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, "image-test-token-1");
    volume = await ServiceAccountVolume.create(cp.info.ca, OPERATOR_NAMESPACE, firstToken);
    // The README's own command line, exactly as written, with its two variables set.
    const { run } = readmeImageCommands();
    assert.ok(run.includes(` ${image}`), `the README runs ${image}: ${run}`);
    assert.ok(
      run.includes(`:${SERVICE_ACCOUNT_MOUNT}:ro`),
      `the README mounts the token at ${SERVICE_ACCOUNT_MOUNT}`,
    );
    await podman(["rm", "-f", "-t", "0", CONTAINER]);
    const started = await runCommand("bash", ["-euo", "pipefail", "-c", run], {
      cwd: repoRoot,
      env: { SA_DIR: volume.dir, API_PORT: new URL(cp.info.server).port },
    });
    assert.equal(started.code, 0, `${run}\nexited ${started.code}: ${started.stderr}`);
    container = Container.adopt(CONTAINER, (await podmanFlags()).global);
  }, T);

  after(async () => {
    await container?.remove();
    await volume?.remove();
    await cp?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, T);

  it("runs the image's CMD as 65532 and becomes leader: the Lease is held by POD_NAME", T, async () => {
    await step(async () => {
      assert.equal(await container!.inspect("{{.Config.User}}"), "65532:65532");
      assert.deepEqual(JSON.parse(await container!.inspect("{{json .Config.Cmd}}")), ["run"]);
      await whileRunning(
        "the Lease held by POD_NAME",
        async () => (await lease()).holder === POD_NAME || undefined,
        90_000,
      );
    });
  });

  it("reconciles a DataFlow: its ConfigMap, its Deployment and its status", T, async () => {
    await step(async () => {
      await cp!.kubectlOk([
        "-n",
        NS,
        "apply",
        "-f",
        join(repoRoot, "deploy/samples/kafka-to-postgresql.yaml"),
      ]);
      const phase = await whileRunning(
        "orders-to-postgresql reconciled",
        () => reconciled("orders-to-postgresql"),
      );
      assert.equal(phase, "Pending");
      // The deployment controller's part (no kubelet here): the processor is up, so Running.
      await markReady(clientFor(cp!), NS, "dataflow-orders-to-postgresql");
      await whileRunning(
        "orders-to-postgresql Running",
        async () => await reconciled("orders-to-postgresql") === "Running" ? true : undefined,
      );
    });
  });

  it("answers /readyz on 9091 and /metrics on 9090", T, async () => {
    await step(async () => {
      const ready = await fetch(`${HEALTH}/readyz`);
      await ready.body?.cancel();
      assert.equal(ready.status, 200);
      const res = await fetch(METRICS);
      assert.equal(res.status, 200);
      const samples = parsePrometheus(await res.text());
      assert.equal(sumOf(samples, "leader_election_master_status"), 1, "leader_election_master_status");
      assert.ok(
        sumOf(samples, "controller_runtime_reconcile_total", (l) => l.result === "success") >= 1,
        "controller_runtime_reconcile_total{result=success}",
      );
    });
  });

  it("keeps working after the token file is rotated and the old token revoked", T, async () => {
    await step(async () => {
      const second = await boundToken(
        cp!,
        OPERATOR_NAMESPACE,
        OPERATOR_SERVICE_ACCOUNT,
        "image-test-token-2",
      );
      await volume!.rotate(second);
      // Deleting the Secret the first token is bound to revokes that token.
      await cp!.kubectlOk(["-n", OPERATOR_NAMESPACE, "delete", "secret", "image-test-token-1"]);
      await whileRunning(
        "the first token rejected",
        async () => await tokenRejected(cp!, firstToken, scratch) ? true : undefined,
      );
      const revoked = Date.now();
      await cp!.kubectlOk([
        "-n",
        NS,
        "apply",
        "-f",
        join(repoRoot, "deploy/samples/with-transformations.yaml"),
      ]);
      assert.equal(
        await whileRunning("clickstream-cleanup reconciled", () => reconciled("clickstream-cleanup")),
        "Pending",
      );
      // And the Lease is still renewed by this pod, with the new token.
      const renewed = await whileRunning("a Lease renewal after the revocation", async () => {
        const l = await lease();
        return Date.parse(l.renewTime) > revoked ? l : undefined;
      });
      assert.equal(renewed.holder, POD_NAME);
    });
  });

  it("on podman stop (SIGTERM) exits 0 having released the Lease", T, async () => {
    await step(async () => {
      // The README's stop line: SIGTERM, then SIGKILL after 30 s.
      const { stop } = readmeImageCommands();
      const stopped = await runCommand("bash", ["-euo", "pipefail", "-c", stop], { cwd: repoRoot });
      assert.equal(stopped.code, 0, `${stop}: ${stopped.stderr}`);
      assert.equal(Number(await container!.inspect("{{.State.ExitCode}}")), 0, "exit code");
      // LeaderElector.release: the holder emptied (and the duration cut to 1 s) for a fast takeover.
      assert.equal((await lease()).holder, "");
    });
  });
});
