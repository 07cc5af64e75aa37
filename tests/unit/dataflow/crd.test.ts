/** The generated CRD is structural and carries the identity, columns and rules users rely on. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { crdManifest, crdYaml, toStructural } from "../../../lib/dataflow/crd.ts";

type Node = Record<string, unknown>;
// deno-lint-ignore no-explicit-any
const version = (crdManifest() as any).spec.versions[0];
const root = version.schema.openAPIV3Schema as Node;

function walk(node: Node, path: string, visit: (n: Node, p: string) => void) {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    walk(v, `${path}.${k}`, visit);
  }
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
  if (node.additionalProperties && typeof node.additionalProperties === "object") {
    walk(node.additionalProperties as Node, `${path}{}`, visit);
  }
}

function at(path: string): Node {
  let n = root;
  for (const part of path.split(".")) {
    n = part === "[]" ? n.items as Node : (n.properties as Record<string, Node>)[part];
    assert.ok(n, `no schema at ${path}`);
  }
  return n;
}

describe("the DataFlow CRD", () => {
  it("has the Go operator's identity plus short name, status subresource and printer columns", () => {
    // deno-lint-ignore no-explicit-any
    const crd = crdManifest() as any;
    assert.equal(crd.metadata.name, "dataflows.dataflow.dataflow.io");
    assert.equal(crd.spec.group, "dataflow.dataflow.io");
    assert.equal(crd.spec.scope, "Namespaced");
    assert.deepEqual(crd.spec.names.shortNames, ["df"]);
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(
      version.additionalPrinterColumns.map((c: Node) => [c.name, c.jsonPath]),
      [
        ["Phase", ".status.phase"],
        ["Source", ".spec.source.type"],
        ["Sink", ".spec.sink.type"],
        ["Message", ".status.message"],
        ["Age", ".metadata.creationTimestamp"],
      ],
    );
  });

  it("is structural: every node typed, no JSON-Schema-only keywords", () => {
    walk(root, "", (n, p) => {
      for (const bad of ["$schema", "$ref", "$defs", "propertyNames", "oneOf", "allOf", "not"]) {
        assert.equal(n[bad], undefined, `${bad} at ${p}`);
      }
      if (n.anyOf) assert.equal(n["x-kubernetes-int-or-string"], true, `anyOf without int-or-string at ${p}`);
      else assert.ok(typeof n.type === "string", `untyped node at ${p}`);
      if (n.additionalProperties === false) assert.fail(`additionalProperties: false at ${p}`);
    });
  });

  it("uses int-or-string for quantities and formats for integers", () => {
    const q = at("spec.resources.limits").additionalProperties as Node;
    assert.equal(q["x-kubernetes-int-or-string"], true);
    assert.match(String(q.pattern), /^\^\\\+\?/);
    assert.equal(at("spec.source.postgresql.pollInterval").format, "int32");
    assert.equal(at("status.processedCount").format, "int64");
    assert.equal(at("spec.affinity")["x-kubernetes-preserve-unknown-fields"], true);
    assert.equal(at("status.conditions")["x-kubernetes-list-type"], "map");
  });

  it("carries the CEL rules at the objects they are about", () => {
    const rules = (path: string) =>
      ((at(path)["x-kubernetes-validations"] ?? []) as Node[]).map((r) => r.message);
    assert.ok(rules("spec.source.kafka").includes("brokers or brokersSecretRef is required"));
    assert.ok(rules("spec.sink").includes("trino sink configuration is required when type is trino"));
    assert.ok(
      rules("spec.transformations.[]").includes(
        "router transformation configuration is required when type is router",
      ),
    );
    assert.ok(rules("spec.source.trino.keycloak").includes("clientID or clientIDSecretRef is required"));
    // The plain values are optional so that SecretRef-only manifests (the Go sample) are accepted.
    assert.ok(!((at("spec.source.kafka").required ?? []) as string[]).includes("brokers"));
    assert.deepEqual(at("spec.source").required, ["type"]);
  });

  it("renders as YAML that parses back to the same object", () => {
    assert.deepEqual(parse(crdYaml()), crdManifest());
  });

  it("refuses to emit a union it cannot express structurally", () => {
    assert.throws(() => toStructural({ anyOf: [{ type: "string" }, { type: "object" }] }), /not structural/);
  });
});
