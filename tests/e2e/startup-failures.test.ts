/**
 * Every start-up misconfiguration ends the operator process quickly, with one ERROR line naming
 * the cause and the fix, and the right exit code (1; 2 for configuration errors) — instead of
 * retrying forever. And the default Lease namespace outside a cluster is the shipped install's, so
 * a local run against a cluster with the shipped install works on the first try.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane, freePort, writeKubeconfig } from "../controlplane/harness.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE, waitForCrdEstablished } from "./install.ts";
import { OperatorProcess } from "./operator-process.ts";
import { typeCommand, userPath } from "./user-shell.ts";

const T = { timeout: 300_000 };
/** The check's own budget is 10 s; the rest is process start-up on a slow, shared machine. */
const EXIT_WITHIN_MS = 25_000;

let cp: ControlPlane;
let dir: string;

/** Runs the operator until it exits (killed after EXIT_WITHIN_MS: code -1); returns its exit code and ERROR lines. */
async function runToExit(
  kubeconfig: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number; errors: string[]; op: OperatorProcess }> {
  const op = await OperatorProcess.start({
    kubeconfig,
    args,
    env: { OPERATOR_NAMESPACE, LOG_LEVEL: "info", ...env },
  });
  const code = await Promise.race([
    op.exited(),
    new Promise<number>((r) => setTimeout(() => r(-1), EXIT_WITHIN_MS)),
  ]);
  if (code === -1) await op.stop("SIGKILL");
  // The text of each ERROR line: a JSON log line's message, or a plain `error: …` line.
  const errors = op.lines.filter((l) => /"level":"(ERROR|FATAL)"|^error: /.test(l)).map((l) =>
    l.startsWith("{") ? String(JSON.parse(l).message) : l
  );
  return { code, errors, op };
}

/** Asserts: exited by itself with `code`, with exactly one ERROR line matching every pattern. */
function assertFailure(r: Awaited<ReturnType<typeof runToExit>>, code: number, ...patterns: RegExp[]) {
  assert.notEqual(r.code, -1, `still running after ${EXIT_WITHIN_MS} ms:\n${r.op.tail(20)}`);
  assert.equal(r.code, code, r.op.tail(20));
  assert.equal(r.errors.length, 1, `one ERROR line, got:\n${r.errors.join("\n") || r.op.tail(20)}`);
  for (const p of patterns) assert.match(r.errors[0], p);
}

/** A kubeconfig for the control plane with `server` and `user` replaced. */
async function kubeconfig(name: string, server: string, user: Record<string, unknown>): Promise<string> {
  const path = join(dir, `${name}.kubeconfig`);
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      clusters: [{ name: "k", cluster: { server, "certificate-authority": cp.info.caPath } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "c", context: { cluster: "k", user: "u", namespace: "default" } }],
    }),
  );
  return path;
}

describe("start-up misconfiguration fails loudly, once, with its fix", T, () => {
  before(async () => {
    cp = await ControlPlane.start();
    dir = await mkdtemp(join(tmpdir(), "startup-failures-"));
  }, T);
  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, T);

  it("a closed port: connection refused, exit 1", T, async () => {
    const port = await freePort();
    const r = await runToExit(await kubeconfig("closed", `https://127.0.0.1:${port}`, { token: "x" }));
    assertFailure(
      r,
      1,
      /cannot reach the API server/,
      new RegExp(`connection refused 127\\.0\\.0\\.1:${port}`),
    );
  });

  it("a plain-HTTP server URL for an HTTPS server: use https://, exit 2", T, async () => {
    const plain = cp.info.server.replace("https://", "http://");
    const r = await runToExit(await kubeconfig("plain", plain, { token: cp.info.adminToken }));
    assertFailure(r, 2, /speaks HTTPS, but the configured URL is plain http:\/\//, /use https:\/\//);
  });

  it("an invalid token: the credentials are rejected, exit 1", T, async () => {
    const r = await runToExit(await kubeconfig("bad-token", cp.info.server, { token: "not-a-valid-token" }));
    assertFailure(r, 1, /rejected the credentials of kubeconfig/, /invalid or expired/);
  });

  it("an exec credential plugin that is not installed: exit 2 with the plugin named", T, async () => {
    const r = await runToExit(
      await kubeconfig("exec", cp.info.server, {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "no-such-credential-plugin",
          installHint: "install it from your cloud's CLI",
          interactiveMode: "Never",
        },
      }),
    );
    assertFailure(
      r,
      2,
      /exec plugin "no-such-credential-plugin" was not found/,
      /install it from your cloud's CLI/,
    );
  });

  it(
    "the CRD not installed: the command that installs it, exit 1; typed as printed, it works",
    T,
    async () => {
      const r = await runToExit(cp.info.admin.kubeconfigPath);
      assertFailure(r, 1, /the DataFlow CRD is not installed/, /dataflow-operator crd \| kubectl apply -f -/);
      // The fix, exactly as the ERROR line prints it.
      const fix = /`([^`]+)`/.exec(r.errors[0])![1];
      await typeCommand(cp, fix, await userPath(cp, dir));
      await waitForCrdEstablished(cp);
    },
  );

  it("a user without permissions: each missing permission and the rule to add, exit 1", T, async () => {
    const nobody = await cp.mintUser("nobody");
    const r = await runToExit(nobody.kubeconfigPath);
    assertFailure(
      r,
      1,
      /nobody lacks \d+ permission\(s\)/,
      /list dataflows\.dataflow\.dataflow\.io in all namespaces/,
      /get leases\.coordination\.k8s\.io in dataflow-system/,
      /install deploy\/rbac\.yaml/,
      /apiGroups: \["dataflow\.dataflow\.io"\], resources: \["dataflows"\], verbs: \["get", "list", "watch", "patch"\]/,
    );
  });

  it("a Lease namespace that does not exist: create it or choose another, exit 1", T, async () => {
    const r = await runToExit(cp.info.admin.kubeconfigPath, [
      "--leader-election-namespace=no-such-namespace",
    ]);
    assertFailure(r, 1, /the Lease namespace no-such-namespace does not exist/, /kubectl create namespace/);
  });

  it(
    "outside a cluster with the shipped install, the Lease defaults to dataflow-system: it starts and leads",
    T,
    async () => {
      const identity = await installOperatorIdentity(cp);
      // The ServiceAccount's kubeconfig names namespace dataflow-system; a user's often says default.
      const local = join(dir, "local.kubeconfig");
      await writeKubeconfig(
        local,
        cp.info.server,
        cp.info.caPath,
        { name: "sa", token: identity.token },
        "default",
      );
      const op = await OperatorProcess.start({ kubeconfig: local, env: { LOG_LEVEL: "info" } });
      try {
        await op.waitForLine(
          /became leader of dataflow-system\/dataflow-operator\.dataflow\.io/,
          60_000,
        );
        assert.equal(op.lines.filter((l) => /"level":"ERROR"/.test(l)).length, 0, op.tail(20));
      } finally {
        assert.equal(await op.stop(), 0);
      }
    },
  );
});
