/**
 * A short RBAC outage: while the operator's ClusterRoleBinding is gone, a new DataFlow fails with
 * 403 until its retry backoff has grown to many seconds. Once the binding is back, the DataFlow is
 * reconciled within seconds (the canary retry), not at its backoff.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ControlPlane, type Identity } from "../controlplane/harness.ts";
import { freshNamespace } from "../controlplane/env.ts";
import { dataflow, type DataFlowBody } from "./fixtures.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE } from "./install.ts";

import { OperatorProcess } from "./operator-process.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };
/** The per-item backoff after 13 failures: 5 ms doubled 13 times (about 41 s). */
const BACKOFF_AFTER_13_FAILURES_MS = 5 * 2 ** 13;
let cp: ControlPlane;
let identity: Identity;
let op: OperatorProcess | undefined;

describe("recovery after an RBAC outage", T, () => {
  before(async () => {
    // Its 403s are deliberate: not part of tests/audit's "nothing forbidden".
    cp = await ControlPlane.start({ keepAudit: false });
    identity = await installOperatorIdentity(cp);
  }, T);
  after(async () => {
    await op?.stop();
    await cp?.stop();
  }, T);

  it(
    "a DataFlow that failed with 403 is reconciled within seconds of the grant, not at its backoff",
    T,
    async () => {
      const ns = await freshNamespace(cp, "recovery");
      op = await OperatorProcess.start({ kubeconfig: identity.kubeconfigPath, env: { OPERATOR_NAMESPACE } });
      await op.waitHealthy("/readyz", 120_000);
      const binding = await cp.kubectlOk(["get", "clusterrolebinding", "dataflow-operator", "-o", "json"]);
      await cp.kubectlOk(["delete", "clusterrolebinding", "dataflow-operator"]);
      await cp.kubectlOk(["apply", "-n", ns, "-f", "-"], {
        input: JSON.stringify(dataflow("orders", { connectionString: "postgres://db.example/x" })),
      });
      // Let the backoff grow: 5 ms doubling per failure, so after 13 failures the next regular retry
      // is at least 40 s away.
      const failures = () => op!.lines.filter((l) => /reconcile of .*orders.* failed/.test(l)).length;
      await waitFor(
        "13 failed reconciles of orders",
        () => Promise.resolve(failures() >= 13 || undefined),
        { timeoutMs: 90_000, describe: () => op!.tail(10) },
      );
      const restored = JSON.parse(binding);
      delete restored.metadata.resourceVersion;
      delete restored.metadata.uid;
      delete restored.metadata.creationTimestamp;
      await cp.kubectlOk(["apply", "-f", "-"], { input: JSON.stringify(restored) });
      const grantedAt = Date.now();
      await waitFor(
        "orders reconciled",
        async () => {
          const df = JSON.parse(
            await cp.kubectlOk(["get", "dataflow", "orders", "-n", ns, "-o", "json"]),
          ) as DataFlowBody;
          return df.status?.observedGeneration === df.metadata.generation && df.status?.phase === "Pending"
            ? true
            : undefined;
        },
        { timeoutMs: 60_000, describe: () => op!.tail(10) },
      );
      const took = Date.now() - grantedAt;
      // Before its regular retry could have come (at least 40 s after the 13th failure): so the canary
      // retried it (within 2 s of the grant, plus RBAC's cache and a reconcile), not the backoff.
      assert.ok(took < BACKOFF_AFTER_13_FAILURES_MS, `reconciled ${took} ms after the grant`);
    },
  );
});
