/** The CLI's commands and argument errors (running the operator is covered by the integration tests). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { main, processorSettingsFromEnv, VERSION } from "../../../lib/dataflow/cli.ts";
import { crdYaml } from "../../../lib/dataflow/crd.ts";

async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "", stderr = "";
  const code = await main(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
  });
  return { code, stdout, stderr };
}

describe("cli", () => {
  it("version, --help, crd", async () => {
    assert.deepEqual(await cli(["version"]), {
      code: 0,
      stdout: `dataflow-operator ${VERSION}\n`,
      stderr: "",
    });
    const help = await cli(["--help"]);
    assert.equal(help.code, 0);
    for (
      const flag of [
        "--metrics-bind-address",
        "--health-probe-bind-address",
        "--leader-elect",
        "--kubeconfig",
        "--context",
        "--namespace",
        "PROCESSOR_IMAGE",
        "OPERATOR_IMAGE",
        "render-spec",
        "OPERATOR_DEPLOYMENT_NAME",
        "--zap-log-level",
        "--zap-devel",
        "--zap-encoder",
        "--zap-stacktrace-level",
        "--zap-time-encoding",
        "--log-file",
        "127.0.0.1:9090",
        "127.0.0.1:9091",
      ]
    ) {
      assert.ok(help.stdout.includes(flag), flag);
    }
    const crd = await cli(["crd"]);
    assert.equal(crd.stdout, crdYaml());
    assert.equal(parse(crd.stdout).kind, "CustomResourceDefinition");
  });

  it("manifests prints the CRD first, then deploy/'s manifests", async () => {
    const r = await cli(["manifests"]);
    assert.equal(r.code, 0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
    const [crd, ...rest] = ["crd", "rbac", "operator"].map((f) =>
      parseAllDocuments(readFileSync(new URL(`../../../deploy/${f}.yaml`, import.meta.url), "utf8"))
        .map((d) => d.toJSON()).filter(Boolean)
    );
    assert.deepEqual(docs[0], crd[0]);
    const byName = (d: { kind: string; metadata: { name: string } }) => `${d.kind}/${d.metadata.name}`;
    const sorted = (ds: { kind: string; metadata: { name: string } }[]) =>
      [...ds].sort((a, b) => byName(a).localeCompare(byName(b)));
    assert.deepEqual(sorted(docs.slice(1)), sorted(rest.flat()));
  });

  it("manifests puts the Namespace and ServiceAccount before anything that lives in them", async () => {
    for (const argv of [["manifests"], ["manifests", "--namespaces", "team-a,team-b"]]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, r.stderr);
      const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
      const firstIn = docs.findIndex((d) => d.metadata.namespace === "dataflow-system");
      const nsAt = docs.findIndex((d) => d.kind === "Namespace" && d.metadata.name === "dataflow-system");
      const saAt = docs.findIndex((d) => d.kind === "ServiceAccount");
      assert.ok(nsAt >= 0 && nsAt < firstIn, `${argv.join(" ")}: the Namespace comes first`);
      assert.ok(
        saAt < docs.findIndex((d) => /Binding$/.test(d.kind)),
        "the ServiceAccount precedes its bindings",
      );
    }
  });

  it("manifests --namespaces grants Roles only in those namespaces and starts the operator scoped to them", async () => {
    const cluster = parseAllDocuments((await cli(["manifests"])).stdout).map((d) => d.toJSON()).filter(
      Boolean,
    );
    const clusterRules = cluster.find((d) => d.kind === "ClusterRole").rules;
    const r = await cli(["manifests", "--namespaces", "team-a, team-b,team-a"]);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
    assert.deepEqual(docs.filter((d) => /^ClusterRole/.test(d.kind)), []);
    const roles = docs.filter((d) => d.kind === "Role");
    const workload = roles.filter((d) => d.metadata.name === "dataflow-operator");
    assert.deepEqual(workload.map((d) => d.metadata.namespace), ["team-a", "team-b"]);
    for (const role of workload) assert.deepEqual(role.rules, clusterRules);
    const bindings = docs.filter((d) => d.kind === "RoleBinding");
    assert.deepEqual(bindings.map((b) => `${b.metadata.namespace}/${b.roleRef.name}`).sort(), [
      "dataflow-system/dataflow-operator-leader-election",
      "dataflow-system/dataflow-operator-self",
      "team-a/dataflow-operator",
      "team-b/dataflow-operator",
    ]);
    const self = roles.find((d) => d.metadata.name === "dataflow-operator-self");
    assert.deepEqual(self.rules, [{
      apiGroups: ["apps"],
      resources: ["deployments"],
      resourceNames: ["dataflow-operator"],
      verbs: ["list", "watch"],
    }]);
    const dep = docs.find((d) => d.kind === "Deployment");
    assert.equal(dep.spec.template.spec.containers[0].args.at(-1), "--namespace=team-a,team-b");
    // The operator's own namespace among them: its Role there covers the self-watch.
    const withOwn = parseAllDocuments((await cli(["manifests", "--namespaces", "dataflow-system,x"])).stdout)
      .map((d) => d.toJSON()).filter(Boolean);
    assert.equal(withOwn.filter((d) => d.metadata?.name === "dataflow-operator-self").length, 0);
  });

  it("refuses a bad namespace list with exit code 2, naming the entry", async () => {
    const r = await cli(["manifests", "--namespaces", "team-a,Team_B"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--namespaces: "Team_B" is not a namespace name/);
    const run = await cli(["run", "--namespace", ",", "--kubeconfig=/nonexistent/kubeconfig"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--namespace: expected a comma-separated list of namespaces/);
  });

  it("refuses unknown commands and flags, and bad values, with exit code 2", async () => {
    assert.deepEqual(await cli(["bogus"]), {
      code: 2,
      stdout: "",
      stderr: 'error: unknown command "bogus"; see --help\n',
    });
    assert.deepEqual(await cli(["--bogus"]), {
      code: 2,
      stdout: "",
      stderr: "error: unknown flag --bogus; see --help\n",
    });
    assert.deepEqual(await cli(["run", "--context"]), {
      code: 2,
      stdout: "",
      stderr: "error: flag --context needs a value; see --help\n",
    });
    for (
      const [argv, env, line] of [
        [
          ["run", "--metrics-bind-address=bogus"],
          {},
          "--metrics-bind-address=bogus: expected [host]:port or 0",
        ],
        [["run"], { LOG_FORMAT: "xml" }, "LOG_FORMAT=xml: expected json or text"],
        [["run", "--zap-encoder=xml"], {}, "--zap-encoder=xml: expected json or console"],
      ] as const
    ) {
      assert.deepEqual(await cli([...argv, "--kubeconfig=/nonexistent/kubeconfig"], env), {
        code: 2,
        stdout: "",
        stderr: `error: ${line}\n`,
      });
    }
    const r = await cli(["run", "--leader-elect=maybe", "--kubeconfig=/nonexistent/kubeconfig"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--leader-elect=maybe: expected true or false/);
    for (const bad of ["0", "1.5", "many"]) {
      const c = await cli([
        "run",
        `--max-concurrent-reconciles=${bad}`,
        "--kubeconfig=/nonexistent/kubeconfig",
      ]);
      assert.equal(c.code, 2);
      assert.match(
        c.stderr,
        new RegExp(`--max-concurrent-reconciles=${bad}: expected a whole number from 1 to 256`),
      );
    }
  });

  it("--log-file: the log goes there (appended); a file that cannot be opened exits 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dataflow-cli-log-"));
    try {
      const file = join(dir, "operator.log");
      writeFileSync(file, "earlier\n");
      const r = await cli(
        ["run", `--log-file=${file}`, "--zap-time-encoding=iso8601", "--kubeconfig=/nonexistent/kubeconfig"],
        { LOG_FORMAT: "text" },
      );
      assert.equal(r.code, 2);
      const lines = readFileSync(file, "utf8").split("\n");
      assert.equal(lines[0], "earlier");
      assert.match(
        lines[1],
        /\[WRN\] .*ignoring flags of the Go operator that have no effect here: --zap-time-encoding=iso8601$/,
      );
      const bad = await cli(["run", `--log-file=${join(dir, "no", "such", "dir.log")}`]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^error: --log-file=.*dir\.log: .*(ENOENT|No such file)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says clearly when there is no cluster to talk to", async () => {
    const r = await cli(["run", "--kubeconfig=/nonexistent/kubeconfig"], { HOME: "/nonexistent" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: .*nonexistent/);
  });

  it("reads processor settings from the environment", () => {
    assert.deepEqual(processorSettingsFromEnv({}), {
      image: `ghcr.io/dataflow-operator/dataflow:${VERSION}`,
      operatorImage: `dataflow-operator:${VERSION}`,
      logLevel: "info",
      podSecurityContext: undefined,
      containerSecurityContext: undefined,
    });
    const s = processorSettingsFromEnv({
      PROCESSOR_IMAGE: "x:1",
      OPERATOR_IMAGE: "registry.example/dataflow-operator:2",
      PROCESSOR_LOG_LEVEL: "debug",
      PROCESSOR_POD_SECURITY_CONTEXT: '{"runAsUser":7}',
    });
    assert.equal(s.image, "x:1");
    assert.equal(s.operatorImage, "registry.example/dataflow-operator:2");
    assert.equal(s.logLevel, "debug");
    assert.deepEqual(s.podSecurityContext, { runAsUser: 7 });
    assert.throws(
      () => processorSettingsFromEnv({ PROCESSOR_SECURITY_CONTEXT: "{" }),
      /PROCESSOR_SECURITY_CONTEXT is not valid JSON/,
    );
  });
});
