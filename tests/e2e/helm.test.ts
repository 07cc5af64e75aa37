/**
 * The packaging, proven against the real API server: the Helm chart (rendered by a Helm built
 * from the Go module proxy) and deploy/*.yaml pass a server-side dry run, the chart's CRD and RBAC
 * are the ones in deploy/, and the operator pod passes the "restricted" Pod Security Standard as
 * the API server's PodSecurity admission enforces it. The Go operator's chart values render as
 * their equivalents here, values.schema.json refuses unknown keys by name, and what this chart
 * cannot honour is refused with the reason.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { processorSettingsFromEnv } from "../../lib/dataflow/cli.ts";
import { DEFAULT_PROCESSOR_POLICY, parseProcessorPolicy } from "../../lib/dataflow/policy.ts";
import { freshNamespace } from "../controlplane/env.ts";
import { ControlPlane } from "../controlplane/harness.ts";
import { installCrd } from "./install.ts";
import { operatorCommand } from "./operator-process.ts";
import {
  chartDir,
  dryRunServer,
  helmBinary,
  helmTemplate,
  type Manifest,
  parseManifests,
  pick,
  readManifests,
  renderChart,
  repoRoot,
  runCommand,
} from "./manifests.ts";

const T = { timeout: 300_000 };
let cp: ControlPlane;
let ns: string;

/** Non-default values touching every key the chart has. */
const custom = {
  // Not 2 or more: that needs leader election, which this set turns off (the chart refuses it).
  replicas: 0,
  "image.repository": "registry.example/dataflow-operator",
  "image.tag": "1.2.3",
  "image.pullPolicy": "Always",
  processorImage: "registry.example/dataflow-processor:9.9.9",
  processorLogLevel: "debug",
  "processorPolicy.resources.maxCpu": "16",
  "processorPolicy.tolerations.allowedKeys": ["dedicated"],
  logLevel: "debug",
  watchNamespace: "team-a",
  "leaderElection.enabled": false,
  "rbac.create": false,
  "serviceAccount.create": false,
  "serviceAccount.name": "existing-operator-sa",
  "crds.install": false,
  "metrics.port": 19090,
  "health.port": 19091,
  "serviceMonitor.enabled": true,
  "serviceMonitor.additionalLabels": { release: "prometheus" },
  resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "96Mi" } },
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "operators", effect: "NoSchedule" }],
  podAnnotations: { "example.com/team": "data" },
  extraEnv: [{ name: "EXTRA", value: "1" }],
};

/**
 * A values file written for the Go operator's chart (dataflow-operator/helm-charts): every key that
 * chart has ever had, non-default where this chart honours it, disabled where it cannot.
 */
const goValues = {
  crds: { install: true, keep: true },
  replicaCount: 3,
  image: { repository: "registry.example/dataflow-operator", pullPolicy: "Always", tag: "1.2.3" },
  processorImage: "",
  imagePullSecrets: [{ name: "pull-secret" }],
  nameOverride: "",
  fullnameOverride: "",
  serviceAccount: { create: true, annotations: { "example.com/role": "operator" }, name: "" },
  podAnnotations: { "example.com/team": "data" },
  podSecurityContext: {},
  securityContext: {},
  resources: { limits: { cpu: "500m", memory: "512Mi" }, requests: { cpu: "100m", memory: "128Mi" } },
  rbac: { create: true },
  leaderElection: { enabled: true, leaderElectionID: "dataflow-operator.dataflow.io" },
  metrics: { enabled: true, port: 8080 },
  logLevel: "debug",
  processorLogLevel: "warn",
  processorProgressTimeoutSeconds: "600",
  sentry: {
    enabled: false,
    dsn: "",
    environment: "production",
    tracesSampleRate: 0.1,
    debug: false,
    release: "",
  },
  health: { probePort: 8081 },
  webhook: { enabled: false, caBundle: "", certDir: "", secretName: "" },
  service: { type: "ClusterIP", port: 80 },
  serviceMonitor: {
    enabled: true,
    interval: "15s",
    scrapeTimeout: "5s",
    additionalLabels: { release: "prom" },
  },
  monitoring: {
    dashboard: { enabled: false, folder: "DataFlow" },
    prometheusRule: { enabled: false, additionalLabels: {} },
  },
  gui: {
    enabled: false,
    image: {
      repository: "ghcr.io/dataflow-operator/dataflow-web",
      tag: "v0.2.4",
      pullPolicy: "IfNotPresent",
    },
    replicaCount: 1,
    port: 8080,
    logLevel: "",
    extraEnv: [],
    prometheus: { url: "", bearerTokenSecret: { name: "", key: "token" } },
    resources: {},
    serviceAccount: { name: "" },
    ingress: {
      enabled: false,
      className: "",
      annotations: {},
      hosts: [{ host: "dataflow-gui.local", paths: [{ path: "/", pathType: "Prefix" }] }],
      tls: [],
    },
  },
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [],
  affinity: {},
};

/** The same settings in this chart's own names. */
const nativeValues = {
  replicas: 3,
  "image.repository": "registry.example/dataflow-operator",
  "image.pullPolicy": "Always",
  "image.tag": "1.2.3",
  processorImage: "ghcr.io/dataflow-operator/dataflow:0.1.0",
  imagePullSecrets: [{ name: "pull-secret" }],
  "serviceAccount.annotations": { "example.com/role": "operator" },
  podAnnotations: { "example.com/team": "data" },
  "metrics.port": 8080,
  logLevel: "debug",
  processorLogLevel: "warn",
  "health.port": 8081,
  "service.port": 80,
  "serviceMonitor.enabled": true,
  "serviceMonitor.interval": "15s",
  "serviceMonitor.scrapeTimeout": "5s",
  "serviceMonitor.additionalLabels": { release: "prom" },
  nodeSelector: { "kubernetes.io/os": "linux" },
};

/** The chart's appVersion (Chart.yaml). */
async function appVersion(): Promise<string> {
  return parse(await readFile(join(chartDir, "Chart.yaml"), "utf8")).appVersion;
}

/** Runs helm with a values file (as a user of the Go chart would: `-f values.yaml`). */
async function helmWithValuesFile(
  args: string[],
  values: unknown,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), "dataflow-helm-values-"));
  try {
    const file = join(dir, "values.yaml");
    await writeFile(file, stringify(values));
    return await runCommand(await helmBinary(), [...args, "-f", file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function container(objects: Manifest[]): Manifest {
  const dep = pick(objects, "Deployment");
  assert.equal(dep.spec.template.spec.containers.length, 1);
  return dep.spec.template.spec.containers[0];
}

function env(c: Manifest): Record<string, unknown> {
  return Object.fromEntries(c.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
}

/** A bare Pod from a Deployment's template, to put the pod itself through PodSecurity admission. */
function podOf(dep: Manifest, namespace: string): Manifest {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `${dep.metadata.name}-probe`, namespace, labels: dep.spec.template.metadata.labels },
    spec: dep.spec.template.spec,
  };
}

describe("Helm chart and deploy/ manifests against the real API server", T, () => {
  before(async () => {
    // A private control plane, stopped in `after`: this file installs the CRD and creates
    // dataflow-system for real, and must leave no server behind when it runs alone.
    cp = await ControlPlane.start();
    await helmBinary();
    ns = await freshNamespace(cp, "helm");
  }, T);
  after(async () => {
    await cp?.stop();
  }, T);

  it("helm lint --strict passes", T, async () => {
    const r = await runCommand(await helmBinary(), ["lint", "--strict", chartDir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("the chart's CRD copy is byte-for-byte deploy/crd.yaml", T, async () => {
    const generated = await readFile(join(repoRoot, "deploy", "crd.yaml"), "utf8");
    const copy = await readFile(join(chartDir, "files", "crd.yaml"), "utf8");
    assert.ok(generated.includes("kind: CustomResourceDefinition"), "deploy/crd.yaml is not a CRD");
    assert.equal(
      copy,
      generated,
      "deploy/helm/dataflow-operator/files/crd.yaml is stale: cp deploy/crd.yaml there",
    );
  });

  it(
    "default values render the CRD, least-privilege RBAC and the operator, and the API server accepts them",
    T,
    async () => {
      const objects = await renderChart("dataflow-operator", ns);
      assert.deepEqual(
        objects.map((o) => o.kind).sort(),
        [
          "ClusterRole",
          "ClusterRoleBinding",
          "CustomResourceDefinition",
          "Deployment",
          "Role",
          "RoleBinding",
          "Service",
          "ServiceAccount",
        ],
      );
      const r = await dryRunServer(cp, objects);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split("\n").length, objects.length, r.stdout);

      const dep = pick(objects, "Deployment", "dataflow-operator");
      assert.equal(dep.metadata.namespace, ns);
      assert.equal(dep.spec.replicas, 1);
      assert.equal(dep.spec.template.spec.serviceAccountName, "dataflow-operator");
      const c = container(objects);
      assert.equal(c.name, "manager");
      assert.equal(c.image, "dataflow-operator:0.1.0");
      assert.deepEqual(c.args, [
        "run",
        "--metrics-bind-address=:9090",
        "--health-probe-bind-address=:9091",
        "--leader-elect=true",
      ]);
      assert.deepEqual(c.ports.map((p: Manifest) => [p.name, p.containerPort]), [["metrics", 9090], [
        "health",
        9091,
      ]]);
      assert.equal(c.livenessProbe.httpGet.path, "/healthz");
      assert.equal(c.readinessProbe.httpGet.path, "/readyz");
      const e = env(c);
      assert.deepEqual(e.POD_NAME, { fieldRef: { fieldPath: "metadata.name" } });
      assert.deepEqual(e.OPERATOR_NAMESPACE, { fieldRef: { fieldPath: "metadata.namespace" } });
      assert.equal(e.OPERATOR_DEPLOYMENT_NAME, "dataflow-operator");
      assert.equal(e.PROCESSOR_IMAGE, "ghcr.io/dataflow-operator/dataflow:latest");
      // The processor pods' init container runs the image the operator itself runs as.
      assert.equal(e.OPERATOR_IMAGE, c.image);
      assert.equal(e.LOG_LEVEL, "info");

      const crd = pick(objects, "CustomResourceDefinition");
      const [generated] = await readManifests("deploy/crd.yaml");
      assert.equal(crd.metadata.annotations["helm.sh/resource-policy"], "keep");
      assert.deepEqual(crd.spec, generated.spec, "the rendered CRD's spec differs from deploy/crd.yaml");

      const sa = pick(objects, "ServiceAccount");
      for (const binding of [pick(objects, "ClusterRoleBinding"), pick(objects, "RoleBinding")]) {
        assert.deepEqual(binding.subjects, [{
          kind: "ServiceAccount",
          name: sa.metadata.name,
          namespace: ns,
        }]);
      }
      const role = pick(objects, "Role");
      assert.equal(role.metadata.namespace, ns, "the Lease Role must live in the release namespace only");

      const svc = pick(objects, "Service");
      for (const [k, v] of Object.entries(svc.spec.selector)) {
        assert.equal(dep.spec.template.metadata.labels[k], v);
      }
    },
  );

  it("the chart's RBAC rules are exactly deploy/rbac.yaml's", T, async () => {
    const chart = await renderChart("dataflow-operator", ns);
    const deploy = await readManifests("deploy/rbac.yaml");
    assert.deepEqual(pick(chart, "ClusterRole").rules, pick(deploy, "ClusterRole").rules);
    assert.deepEqual(pick(chart, "Role").rules, pick(deploy, "Role").rules);
  });

  it(
    "watchNamespaces: Roles only in those namespaces (the rules of `manifests --namespaces`), no ClusterRole",
    T,
    async () => {
      const watched = [await freshNamespace(cp, "wa"), await freshNamespace(cp, "wb")];
      const objects = await renderChart("dataflow-operator", ns, { watchNamespaces: watched });
      assert.deepEqual(objects.filter((o) => /^ClusterRole/.test(o.kind)), []);
      const [cmd, ...args] = operatorCommand();
      const printed = await runCommand(cmd, [...args, "manifests", "--namespaces", watched.join(",")], {
        cwd: repoRoot,
      });
      assert.equal(printed.code, 0, printed.stderr);
      const cli = parseManifests(printed.stdout);
      // The operator's namespace differs (the chart's release namespace, the CLI's dataflow-system).
      const rbacOf = (list: Manifest[], operatorNs: string) =>
        list.filter((o) => /^Role/.test(o.kind)).map((o) => ({
          kind: o.kind,
          name: o.metadata.name,
          namespace: o.metadata.namespace === operatorNs ? "<operator>" : o.metadata.namespace,
          rules: o.rules,
          roleRef: o.roleRef,
          subjects: o.subjects?.map((x: Manifest) => ({ ...x, namespace: "<operator>" })),
        })).sort((a, b) =>
          `${a.kind}${a.namespace}${a.name}`.localeCompare(`${b.kind}${b.namespace}${b.name}`)
        );
      assert.deepEqual(rbacOf(objects, ns), rbacOf(cli, "dataflow-system"));
      assert.equal(objects.filter((o) => o.kind === "Role").length, 4); // 2 workload, self, Lease
      assert.ok(container(objects).args.includes(`--namespace=${watched.join(",")}`));
      const r = await dryRunServer(cp, objects.filter((o) => o.kind !== "CustomResourceDefinition"));
      assert.equal(r.code, 0, r.stderr);
    },
  );

  it("the chart's default operator pod is deploy/operator.yaml's (no drift between the two)", T, async () => {
    const chart = pick(await renderChart("dataflow-operator", "dataflow-system"), "Deployment");
    const plain = pick(await readManifests("deploy/operator.yaml"), "Deployment");
    const comparable = (d: Manifest) => {
      const spec = structuredClone(d.spec.template.spec);
      return { replicas: d.spec.replicas, name: d.metadata.name, namespace: d.metadata.namespace, spec };
    };
    // Labels differ on purpose (the chart adds Helm's); the pod itself must not.
    assert.deepEqual(comparable(chart), comparable(plain));
  });

  it("non-default values are honoured and the API server accepts the result", T, async () => {
    const objects = await renderChart("df", ns, custom);
    // rbac.create=false, serviceAccount.create=false, crds.install=false: none of those objects.
    assert.deepEqual(
      objects.map((o) => o.kind).sort(),
      ["Deployment", "Service", "ServiceMonitor"],
    );
    const dep = pick(objects, "Deployment", "df-dataflow-operator");
    assert.equal(dep.spec.replicas, 0);
    const spec = dep.spec.template.spec;
    assert.equal(spec.serviceAccountName, "existing-operator-sa");
    assert.deepEqual(spec.nodeSelector, custom.nodeSelector);
    assert.deepEqual(spec.tolerations, custom.tolerations);
    assert.deepEqual(dep.spec.template.metadata.annotations, custom.podAnnotations);
    const c = container(objects);
    assert.equal(c.image, "registry.example/dataflow-operator:1.2.3");
    assert.equal(c.imagePullPolicy, "Always");
    assert.deepEqual(c.args, [
      "run",
      "--metrics-bind-address=:19090",
      "--health-probe-bind-address=:19091",
      "--leader-elect=false",
      "--namespace=team-a",
    ]);
    assert.deepEqual(c.ports.map((p: Manifest) => [p.name, p.containerPort]), [["metrics", 19090], [
      "health",
      19091,
    ]]);
    assert.deepEqual(c.resources, custom.resources);
    const e = env(c);
    assert.equal(e.PROCESSOR_IMAGE, custom.processorImage);
    assert.equal(e.OPERATOR_IMAGE, "registry.example/dataflow-operator:1.2.3");
    assert.equal(e.PROCESSOR_LOG_LEVEL, "debug");
    // The policy reaches the operator as JSON it accepts, the values not set keeping their defaults.
    assert.deepEqual(parseProcessorPolicy(e.PROCESSOR_POLICY as string), {
      ...DEFAULT_PROCESSOR_POLICY,
      tolerations: { ...DEFAULT_PROCESSOR_POLICY.tolerations, allowedKeys: ["dedicated"] },
      resources: { ...DEFAULT_PROCESSOR_POLICY.resources, maxCpu: "16" },
    });
    assert.equal(e.LOG_LEVEL, "debug");
    assert.equal(e.OPERATOR_DEPLOYMENT_NAME, "df-dataflow-operator");
    assert.equal(e.EXTRA, "1");

    // The ServiceMonitor's kind (monitoring.coreos.com) is not served by a bare API server, so it
    // is checked for what makes it scrape: it selects the metrics Service and names its port.
    const sm = pick(objects, "ServiceMonitor");
    const svc = pick(objects, "Service");
    assert.equal(sm.metadata.labels.release, "prometheus");
    assert.deepEqual(sm.spec.namespaceSelector.matchNames, [ns]);
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) {
      assert.equal(svc.metadata.labels[k], v);
    }
    assert.deepEqual(
      sm.spec.endpoints.map((p: Manifest) => p.port),
      ["metrics"],
    );
    assert.ok(svc.spec.ports.some((p: Manifest) => p.name === "metrics" && p.port === 19090));

    const r = await dryRunServer(cp, objects.filter((o) => o.kind !== "ServiceMonitor"));
    assert.equal(r.code, 0, r.stderr);
  });

  it(
    "crds.keep=false drops the keep policy; leaderElection.enabled=false the Lease Role; serviceAccount.create=false needs a name",
    T,
    async () => {
      const notKept = pick(
        await renderChart("dataflow-operator", ns, { "crds.keep": false }),
        "CustomResourceDefinition",
      );
      assert.equal(notKept.metadata.annotations?.["helm.sh/resource-policy"], undefined);
      const noLease = await renderChart("dataflow-operator", ns, { "leaderElection.enabled": false });
      assert.equal(noLease.filter((o) => o.kind === "Role" || o.kind === "RoleBinding").length, 0);
      assert.ok(noLease.some((o) => o.kind === "ClusterRole"));
      const r = await helmTemplate("dataflow-operator", ns, { "serviceAccount.create": false });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /serviceAccount\.name is required when serviceAccount\.create is false/);
    },
  );

  it("deploy/crd.yaml, rbac.yaml and operator.yaml pass a server-side dry run", T, async () => {
    const objects = [
      ...await readManifests("deploy/crd.yaml"),
      ...await readManifests("deploy/rbac.yaml"),
      ...await readManifests("deploy/operator.yaml"),
    ];
    // The Role/RoleBinding/ServiceAccount/Deployment need their namespace to exist; the Namespace in
    // rbac.yaml is only dry-run, so create it for real (idempotent).
    await cp.kubectl(["create", "namespace", "dataflow-system"]);
    const r = await dryRunServer(cp, objects);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, objects.length, r.stdout);
  });

  it("the samples are valid DataFlows for the installed CRD", T, async () => {
    await installCrd(cp);
    const samples = ["kafka-to-postgresql", "with-transformations", "missing-secret"];
    for (const name of samples) {
      const objects = (await readManifests(`deploy/samples/${name}.yaml`)).map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace: ns },
      }));
      assert.ok(objects.some((o) => o.kind === "DataFlow"), `${name}.yaml has no DataFlow`);
      const r = await dryRunServer(cp, objects);
      assert.equal(r.code, 0, `${name}.yaml: ${r.stderr}`);
    }
  });

  it(
    "the operator pod (chart and deploy/operator.yaml) passes PodSecurity 'restricted'; a weakened one does not",
    T,
    async () => {
      const restricted = await freshNamespace(cp, "psa");
      await cp.kubectlOk(["label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted"]);
      try {
        const fromChart = pick(await renderChart("dataflow-operator", ns), "Deployment");
        const fromDeploy = pick(await readManifests("deploy/operator.yaml"), "Deployment");
        for (const dep of [fromChart, fromDeploy]) {
          const r = await dryRunServer(cp, [podOf(dep, restricted)]);
          assert.equal(r.code, 0, r.stderr);
          const c = dep.spec.template.spec.containers[0];
          assert.equal(c.securityContext.readOnlyRootFilesystem, true);
          assert.ok(c.volumeMounts.some((m: Manifest) => m.mountPath === "/tmp"), "no writable /tmp");
          assert.ok(dep.spec.template.spec.volumes.some((v: Manifest) => v.name === "tmp" && v.emptyDir));
        }
        // The control: the same pod keeping its capabilities is refused by PodSecurity admission.
        const weakened = structuredClone(fromChart);
        delete weakened.spec.template.spec.containers[0].securityContext.capabilities;
        const r = await dryRunServer(cp, [podOf(weakened, restricted)]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /violates PodSecurity "restricted.*capabilities/s);
      } finally {
        await cp.kubectl(["delete", "namespace", restricted, "--wait=false"]);
      }
    },
  );

  it("an invalid value is refused by the API server, not silently accepted", T, async () => {
    // Proves the dry run validates: a quantity the schema lets through must be rejected by the API.
    const objects = await renderChart("dataflow-operator", ns, {
      resources: { requests: { cpu: "lots" } },
      "crds.install": false,
    });
    const r = await dryRunServer(cp, objects);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /quantities must match/);
  });

  it(
    "a values file of the Go operator's chart renders exactly as the same settings in this chart's names",
    T,
    async () => {
      const r = await helmWithValuesFile(
        ["template", "df", chartDir, "--namespace", ns, "--kube-version", "v1.36.3"],
        goValues,
      );
      assert.equal(r.code, 0, r.stderr);
      const fromGo = parseManifests(r.stdout);
      assert.deepEqual(fromGo, await renderChart("df", ns, nativeValues));
      const dep = pick(fromGo, "Deployment");
      assert.equal(dep.spec.replicas, 3, "replicaCount");
      const c = container(fromGo);
      assert.deepEqual(c.args.slice(0, 3), [
        "run",
        "--metrics-bind-address=:8080",
        "--health-probe-bind-address=:8081",
      ]);
      assert.deepEqual(c.ports.map((p: Manifest) => [p.name, p.containerPort]), [["metrics", 8080], [
        "health",
        8081,
      ]]);
      assert.equal(env(c).PROCESSOR_IMAGE, "ghcr.io/dataflow-operator/dataflow:0.1.0", 'processorImage: ""');
      assert.equal(env(c).LOG_LEVEL, "debug");
      const svc = pick(fromGo, "Service");
      assert.deepEqual(svc.spec.ports, [{
        name: "metrics",
        port: 80,
        targetPort: "metrics",
        protocol: "TCP",
      }]);
      assert.equal(pick(fromGo, "ServiceMonitor").spec.endpoints[0].port, "metrics");
      const dry = await dryRunServer(
        cp,
        fromGo.filter((o) => o.kind !== "ServiceMonitor" && o.kind !== "CustomResourceDefinition"),
      );
      assert.equal(dry.code, 0, dry.stderr);
      // The one value without effect is named in the install notes, not silently dropped.
      const install = await helmWithValuesFile(
        [
          "install",
          "df",
          chartDir,
          "--namespace",
          ns,
          "--dry-run=client",
          "--kubeconfig",
          cp.info.admin.kubeconfigPath,
        ],
        // No ServiceMonitor (its CRD is not served here, and Helm's client dry run maps every kind)
        // and no CRD (installed by an earlier test, not by Helm: Helm would refuse to adopt it).
        {
          ...goValues,
          serviceMonitor: { ...goValues.serviceMonitor, enabled: false },
          crds: { install: false, keep: true },
        },
      );
      assert.equal(install.code, 0, install.stderr);
      assert.match(
        install.stdout,
        /Values of the Go operator's chart accepted but without effect here:\n\s+processorProgressTimeoutSeconds/,
      );
    },
  );

  it('processorImage: "" (or unset) renders the operator\'s own default processor image', T, async () => {
    const expected = processorSettingsFromEnv({}).image;
    assert.equal(expected, `ghcr.io/dataflow-operator/dataflow:${await appVersion()}`);
    for (const processorImage of ["", null]) {
      const c = container(await renderChart("dataflow-operator", ns, { processorImage }));
      assert.equal(env(c).PROCESSOR_IMAGE, expected, `processorImage: ${JSON.stringify(processorImage)}`);
    }
  });

  it("metrics.enabled=false: no metrics endpoint, port, Service or ServiceMonitor", T, async () => {
    const objects = await renderChart("dataflow-operator", ns, { "metrics.enabled": false });
    const c = container(objects);
    assert.ok(c.args.includes("--metrics-bind-address=0"), c.args.join(" "));
    assert.deepEqual(c.ports.map((p: Manifest) => p.name), ["health"]);
    assert.equal(objects.filter((o) => o.kind === "Service").length, 0);
    const r = await helmTemplate("dataflow-operator", ns, {
      "metrics.enabled": false,
      "serviceMonitor.enabled": true,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /serviceMonitor\.enabled needs metrics\.enabled/);
  });

  it(
    "grafanaDashboard: the dashboard as a ConfigMap with the Grafana sidecar's label, which the API server accepts",
    T,
    async () => {
      assert.equal(
        (await renderChart("dataflow-operator", ns)).filter((o) => o.kind === "ConfigMap").length,
        0,
        "the dashboard is off by default",
      );
      const source = await readFile(join(repoRoot, "deploy", "grafana", "dataflow-operator.json"), "utf8");
      const on = pick(
        await renderChart("dataflow-operator", ns, { "grafanaDashboard.enabled": true }),
        "ConfigMap",
      );
      assert.equal(on.metadata.name, "dataflow-operator-grafana-dashboard");
      assert.equal(on.metadata.namespace, ns);
      assert.equal(on.metadata.labels.grafana_dashboard, "1");
      assert.equal(on.metadata.annotations, undefined);
      assert.deepEqual(Object.keys(on.data), ["dataflow-operator.json"]);
      assert.equal(
        on.data["dataflow-operator.json"],
        source.trimEnd(),
        "not deploy/grafana/dataflow-operator.json",
      );
      assert.equal(JSON.parse(on.data["dataflow-operator.json"]).uid, "dataflow-operator");

      // Another namespace (the sidecar's), another label, a folder.
      const monitoring = await freshNamespace(cp, "monitoring");
      const custom = pick(
        await renderChart("df", ns, {
          "grafanaDashboard.enabled": true,
          "grafanaDashboard.namespace": monitoring,
          "grafanaDashboard.labels": { grafana_dashboard: null, "example.com/dashboards": "dataflow" },
          "grafanaDashboard.folder": "Operators",
          "grafanaDashboard.folderAnnotation": "k8s-sidecar-target-directory",
        }),
        "ConfigMap",
      );
      assert.equal(custom.metadata.name, "df-dataflow-operator-grafana-dashboard");
      assert.equal(custom.metadata.namespace, monitoring);
      assert.equal(custom.metadata.labels.grafana_dashboard, undefined);
      assert.equal(custom.metadata.labels["example.com/dashboards"], "dataflow");
      assert.deepEqual(custom.metadata.annotations, { "k8s-sidecar-target-directory": "Operators" });
      const r = await dryRunServer(cp, [on, custom]);
      assert.equal(r.code, 0, r.stderr);

      // The Go chart's monitoring.dashboard renders the same ConfigMap (its folder as grafana_folder).
      const fromGo = pick(
        await renderChart("df", ns, { "monitoring.dashboard": { enabled: true, folder: "DataFlow" } }),
        "ConfigMap",
      );
      assert.deepEqual(
        fromGo,
        pick(
          await renderChart("df", ns, {
            "grafanaDashboard.enabled": true,
            "grafanaDashboard.folder": "DataFlow",
          }),
          "ConfigMap",
        ),
      );
      assert.deepEqual(fromGo.metadata.annotations, { grafana_folder: "DataFlow" });

      const bad = await helmTemplate("dataflow-operator", ns, {
        "grafanaDashboard.enabled": "yes",
        "grafanaDashboard.labels": { grafana_dashboard: 1 },
        "grafanaDashboard.bogus": true,
      });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /at '\/grafanaDashboard': additional properties 'bogus' not allowed/);
      assert.match(bad.stderr, /at '\/grafanaDashboard\/enabled': got string, want boolean/);
      assert.match(bad.stderr, /at '\/grafanaDashboard\/labels\/grafana_dashboard': got number, want string/);
    },
  );

  it("values.schema.json refuses unknown keys, naming each, at every level", T, async () => {
    const r = await helmTemplate("dataflow-operator", ns, {
      bogus: 1,
      "image.registry": "x",
      "metrics.path": "/m",
      "gui.ingress.bogusToo": true,
      "processorPolicy.resources.maxGpu": 8,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /values don't meet the specifications of the schema/);
    assert.match(r.stderr, /at '': additional properties 'bogus' not allowed/);
    assert.match(r.stderr, /at '\/image': additional properties 'registry' not allowed/);
    assert.match(r.stderr, /at '\/metrics': additional properties 'path' not allowed/);
    assert.match(r.stderr, /at '\/gui\/ingress': additional properties 'bogusToo' not allowed/);
    assert.match(r.stderr, /at '\/processorPolicy\/resources': additional properties 'maxGpu' not allowed/);
    const typed = await helmTemplate("dataflow-operator", ns, { "metrics.port": -1 });
    assert.notEqual(typed.code, 0);
    assert.match(typed.stderr, /at '\/metrics\/port': minimum: got -1, want 1/);
  });

  it(
    "what the Go operator's chart offers and this one cannot honour is refused with the reason",
    T,
    async () => {
      const refusals: Array<[Record<string, unknown>, RegExp]> = [
        [{ "gui.enabled": true }, /gui\.enabled: the Go operator's web GUI is not part of this chart/],
        [{ "webhook.enabled": true }, /webhook\.enabled: this operator has no admission webhook/],
        [{ "sentry.enabled": true }, /sentry\.enabled: this operator does not report to Sentry/],
        [
          { "monitoring.prometheusRule.enabled": true },
          /monitoring\.prometheusRule\.enabled: this chart ships no/,
        ],
        [
          { "leaderElection.leaderElectionID": "other.example.com" },
          /leaderElection\.leaderElectionID=other\.example\.com: the Lease's name is fixed/,
        ],
        [
          { "leaderElection.enabled": false, replicaCount: 2 },
          /leaderElection\.enabled=false with 2 replicas: every replica would reconcile/,
        ],
      ];
      for (const [values, message] of refusals) {
        const r = await helmTemplate("dataflow-operator", ns, values);
        assert.notEqual(r.code, 0, JSON.stringify(values));
        assert.match(r.stderr, message);
      }
    },
  );
});
