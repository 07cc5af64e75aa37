/**
 * The processor contract end to end: the operator (a process, under deploy/rbac.yaml) writes a
 * processor Deployment whose init container `render-spec` — run here by the kubelet stand-in as a
 * process, from the Deployment's own args, with the ConfigMap and the Secrets laid out as the
 * kubelet projects them — writes the spec.json the Go operator's processor reads: a password, a
 * connection string, a broker list and TLS files resolved from Secrets. No Secret value reaches
 * any API object or operator log line, and rotating a Secret rolls the Deployment (a new config
 * hash) whose re-render carries the new value.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { KubeClient } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { CONFIG_HASH_ANNOTATION } from "../../lib/dataflow/names.ts";
import { inPod, runInitContainer } from "./kubelet.ts";

import { OPERATOR_IMAGE, OperatorSuite } from "./operator-suite.ts";
import { secret } from "./fixtures.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 600_000 };
const suite = new OperatorSuite();
const { secrets } = suite;
let admin: KubeClient;
let ns: string;
const roots: string[] = [];

const pem = (label: string) =>
  `-----BEGIN ${label}-----\n${secrets.add(`tls-${label}`)}\n-----END ${label}-----\n`;

/** The Deployment, once its pod template carries a config hash other than `not`. */
async function deployment(not?: string): Promise<Deployment> {
  return await waitFor(`Deployment dataflow-contract${not ? " with a new hash" : ""}`, async () => {
    const d = await admin.get<Deployment>(builtin.Deployment, "dataflow-contract", { namespace: ns }).catch(
      () => undefined,
    );
    const hash = d?.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    return hash && hash !== not ? d : undefined;
  });
}

/** Runs the init container in a fresh pod root; returns the root and the processor's spec.json. */
async function render(dep: Deployment) {
  const root = mkdtempSync(join(tmpdir(), "processor-pod-"));
  roots.push(root);
  const r = await runInitContainer(admin, ns, dep, "render-spec", root);
  assert.equal(r.code, 0, `render-spec failed: ${r.stderr}`);
  const processor = dep.spec!.template.spec!.containers.find((c) => c.name === "processor")!;
  const specPath = processor.command!.find((a) => a.startsWith("--spec-path="))!.slice("--spec-path=".length);
  const file = inPod(root, specPath);
  return { root, file, spec: JSON.parse(readFileSync(file, "utf8")), output: r.stdout + r.stderr };
}

describe("the processor's spec.json: rendered by the init container, never stored", T, () => {
  before(async () => {
    await suite.setUp("replica-a");
    ({ admin, ns } = suite);
  }, T);

  after(async () => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
    await suite.tearDown();
  }, T);

  it(
    "the init container resolves password, connection string, brokers and TLS files; the processor reads them",
    T,
    async () => {
      const password = secrets.add("kafka-password");
      const dsn = `postgres://orders:${secrets.add("orders-db")}@db:5432/orders`;
      const brokers = secrets.add("brokers");
      await suite.apply(
        secret("kafka-auth", { password, brokers: ` ${brokers}-0:9093, ${brokers}-1:9093 ` }),
      );
      await suite.apply(secret("orders-db", { connectionString: dsn }));
      const tls = { "tls.crt": pem("CERTIFICATE"), "tls.key": pem("PRIVATE KEY"), "ca.crt": pem("CA") };
      await suite.apply(secret("kafka-tls", tls));
      await suite.apply({
        apiVersion: "dataflow.dataflow.io/v1",
        kind: "DataFlow",
        metadata: { name: "contract" },
        spec: {
          source: {
            type: "kafka",
            kafka: {
              brokersSecretRef: { name: "kafka-auth", key: "brokers" },
              topic: "orders",
              sasl: {
                mechanism: "scram-sha-512",
                username: "svc-orders",
                passwordSecretRef: { name: "kafka-auth", key: "password" },
              },
              tls: {
                certSecretRef: { name: "kafka-tls", key: "tls.crt" },
                keySecretRef: { name: "kafka-tls", key: "tls.key" },
                caSecretRef: { name: "kafka-tls", key: "ca.crt" },
              },
            },
          },
          sink: {
            type: "postgresql",
            postgresql: {
              // A ref wins over an inline value, as in the Go operator.
              connectionString: "postgres://inline-is-overridden",
              connectionStringSecretRef: { name: "orders-db", key: "connectionString" },
              table: "orders",
            },
          },
        },
      });
      await suite.phaseIs("contract", "Pending", /Processor pod is starting/);
      const dep = await deployment();
      const pod = dep.spec!.template.spec!;
      const [init] = pod.initContainers!;
      assert.equal(init.image, OPERATOR_IMAGE);
      // Only the init container mounts Secrets; the processor mounts the rendered spec alone.
      const secretVolumes = pod.volumes!.filter((v) => v.secret).map((v) => v.name);
      assert.equal(secretVolumes.length, 3);
      const processor = pod.containers.find((c) => c.name === "processor")!;
      assert.deepEqual(processor.volumeMounts!.map((m) => [m.name, m.readOnly]), [["spec", true]]);
      assert.ok(secretVolumes.every((v) => init.volumeMounts!.some((m) => m.name === v && m.readOnly)));
      const rendered = pod.volumes!.find((v) => v.name === "spec")!;
      assert.equal(rendered.emptyDir?.medium, "Memory");
      const initSpecMount = init.volumeMounts!.find((m) => m.name === "spec")!;
      assert.equal(
        initSpecMount.mountPath,
        processor.volumeMounts![0].mountPath,
        "TLS paths must hold in both",
      );

      const { root, file, spec, output } = await render(dep);
      const kafka = spec.source.kafka;
      assert.equal(kafka.sasl.password, password);
      assert.equal(kafka.sasl.username, "svc-orders");
      assert.deepEqual(kafka.brokers, [`${brokers}-0:9093`, `${brokers}-1:9093`]);
      assert.equal(spec.sink.postgresql.connectionString, dsn);
      // The references stay next to their values, as the Go operator's ConfigMap held them.
      assert.deepEqual(spec.sink.postgresql.connectionStringSecretRef, {
        name: "orders-db",
        key: "connectionString",
      });
      assert.deepEqual(kafka.sasl.passwordSecretRef, { name: "kafka-auth", key: "password" });
      const specDir = inPod(root, initSpecMount.mountPath);
      for (
        const [field, key] of [["certFile", "tls.crt"], ["keyFile", "tls.key"], ["caFile", "ca.crt"]] as const
      ) {
        const path: string = kafka.tls[field];
        assert.ok(path.startsWith(`${specDir}/`), `${field} ${path} is not in the rendered volume`);
        assert.equal(readFileSync(path, "utf8"), tls[key], field);
        assert.equal(statSync(path).mode & 0o777, 0o400, `${field} mode`);
      }
      assert.equal(statSync(file).mode & 0o777, 0o400, "spec.json mode");
      // The init container's log names what it did, never a value.
      assert.match(
        output,
        /render-spec: wrote .*spec\.json: 6 secret reference\(s\) resolved, 3 TLS file\(s\)/,
      );
      for (const v of secrets.values) {
        assert.ok(!output.includes(v), "a secret value in the init container's output");
      }
    },
  );

  it("no Secret value in any ConfigMap, Deployment, DataFlow, Event or operator log line", T, async () => {
    await suite.assertNoSecretLeak(["kafka-password", "orders-db", "brokers", "tls-CA"]);
  });

  it(
    "rotating a Secret rolls the Deployment (a new config hash) and a re-render carries the new value",
    T,
    async () => {
      const before = await deployment();
      const hash = before.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
      const rotated = `postgres://orders:${secrets.add("orders-db-rotated")}@db:5432/orders`;
      await suite.apply(secret("orders-db", { connectionString: rotated }));
      const after = await deployment(hash);
      const { spec } = await render(after);
      assert.equal(spec.sink.postgresql.connectionString, rotated);
      // The ConfigMap did not change: only the Secret's version went into the hash.
      assert.deepEqual(after.spec!.template.spec, before.spec!.template.spec);
      await suite.assertNoSecretLeak(["orders-db-rotated", "kafka-password"]);
    },
  );
});
