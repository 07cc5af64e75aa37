/**
 * A cache that never fills (every LIST of Secrets answered 500 by a fault proxy) does not leave the
 * leader waiting forever: `/readyz?verbose` names the informer that is missing meanwhile, and after
 * `--cache-sync-timeout` the process ends, exit 1, with the reason.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ControlPlane, writeKubeconfig } from "../controlplane/harness.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE } from "../e2e/install.ts";

import { OperatorProcess } from "../e2e/operator-process.ts";
import { HttpFaultProxy } from "../tools/http-fault-proxy.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };
let cp: ControlPlane;
let proxy: HttpFaultProxy;
let op: OperatorProcess | undefined;

describe("--cache-sync-timeout", T, () => {
  before(async () => {
    cp = await ControlPlane.start();
    proxy = await HttpFaultProxy.forControlPlane(cp);
  }, T);
  after(async () => {
    await op?.stop();
    await proxy?.close();
    await cp?.stop();
  }, T);

  it(
    "a cache that never syncs is named on /readyz?verbose, then ends the process with the reason",
    T,
    async () => {
      const identity = await installOperatorIdentity(cp);
      const kubeconfig = join(cp.info.dir, "through-proxy.kubeconfig");
      await writeKubeconfig(kubeconfig, proxy.url, cp.info.caPath, { name: "sa", token: identity.token! });
      proxy.faults.failShare(1, { verb: "LIST", path: /\/secrets$/ });
      op = await OperatorProcess.start({
        kubeconfig,
        args: ["--cache-sync-timeout=4s"],
        env: { OPERATOR_NAMESPACE, LOG_LEVEL: "info" },
      });
      // Polled until the other caches have synced and only the Secrets' is missing: then it is named.
      await waitFor(
        "/readyz?verbose naming the one unsynced informer",
        async () => {
          const res = await fetch(`${op!.healthUrl}/readyz?verbose`);
          const text = await res.text();
          return res.status !== 200 && /\[-\]informer-secrets-metadata failed: not synced yet/.test(text) &&
              /\[\+\]informer-dataflows ok/.test(text)
            ? text
            : undefined;
        },
        { timeoutMs: 30_000, describe: () => op!.tail(10) },
      );
      const code = await Promise.race([
        op.exited(),
        new Promise<number>((r) => setTimeout(() => r(-1), 60_000)),
      ]);
      assert.equal(code, 1, op.tail(20));
      const errors = op.lines.filter((l) => /"level":"ERROR"/.test(l)).map((l) =>
        JSON.parse(l).message as string
      );
      assert.ok(
        errors.some((m) => /failed to wait for caches to sync \(secrets-metadata\) within 4000 ms/.test(m)),
        errors.join("\n") || op.tail(20),
      );
    },
  );
});
