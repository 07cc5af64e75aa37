/**
 * The operator's command line as shipped (DATAFLOW_OPERATOR_CMD: `deno run -A mod.ts`, or the
 * Bun-compiled binary in CI): `version`, `--help`, `crd` (the binary carries exactly
 * deploy/crd.yaml), and `run` with no cluster configured anywhere fails fast with a message that
 * says what to do (`deno task start` on a machine without a kubeconfig).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseManifests, readManifests, repoRoot, runCommand } from "./manifests.ts";
import { operatorCommand } from "./operator-process.ts";

const T = { timeout: 120_000 };

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const [cmd, ...pre] = operatorCommand();
  return await runCommand(cmd, [...pre, ...args], { env, cwd: repoRoot });
}

describe("the operator CLI", T, () => {
  it("version prints the package version", T, async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8"));
    const r = await cli(["version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `dataflow-operator ${pkg.version}`);
  });

  it("--help lists the commands and the Go operator's flags and environment", T, async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (
      const word of [
        "run",
        "crd",
        "manifests",
        "version",
        "--metrics-bind-address",
        "--health-probe-bind-address",
        "--kubeconfig",
        "--context",
        "--namespace",
        "--leader-elect",
        "LOG_LEVEL",
        "PROCESSOR_IMAGE",
        "PROCESSOR_LOG_LEVEL",
        "OPERATOR_DEPLOYMENT_NAME",
        "OPERATOR_NAMESPACE",
      ]
    ) assert.ok(r.stdout.includes(word), `--help does not mention ${word}`);
  });

  it("crd prints exactly deploy/crd.yaml's CustomResourceDefinition", T, async () => {
    const r = await cli(["crd"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseManifests(r.stdout), await readManifests("deploy/crd.yaml"));
  });

  it(
    "run with no cluster configured anywhere exits 2 with one error line saying how to configure one",
    T,
    async () => {
      const home = await mkdtemp(join(tmpdir(), "dataflow-nohome-"));
      try {
        const r = await cli(["run"], {
          HOME: home,
          KUBECONFIG: undefined,
          KUBERNETES_SERVICE_HOST: undefined,
          KUBERNETES_SERVICE_PORT: undefined,
        });
        const text = r.stdout + r.stderr;
        // A configuration error: exit 2 and one error line, not a retry loop (which would not exit).
        assert.equal(r.code, 2, text);
        const errors = text.split("\n").filter((l) => /^error: |"level":"(ERROR|FATAL)"/.test(l));
        assert.equal(errors.length, 1, text);
        assert.match(errors[0], /--kubeconfig/);
        assert.match(errors[0], /KUBECONFIG/);
        assert.doesNotMatch(text, /^\s+at /m, "a stack trace instead of a message");
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    },
  );

  it("run with a context the kubeconfig does not have names it", T, async () => {
    const home = await mkdtemp(join(tmpdir(), "dataflow-ctx-"));
    try {
      const kubeconfig = join(home, "config");
      await import("node:fs/promises").then((fs) =>
        fs.writeFile(
          kubeconfig,
          `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: here, context: {cluster: c, user: u}}]
current-context: here
`,
        )
      );
      const r = await cli(["run", `--kubeconfig=${kubeconfig}`, "--context=elsewhere"], { HOME: home });
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /elsewhere/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

void process;
