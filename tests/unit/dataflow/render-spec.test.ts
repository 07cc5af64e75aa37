/**
 * `render-spec`, the processor pod's init container, against the Go operator's resolution rules:
 * every `*SecretRef` field of the API — enumerated here by walking the zod schema itself, not from
 * a hand list — is resolved into its plain twin when its block is in use (a ref wins over an
 * inline value; `brokers` split on commas; TLS cert/key/CA as 0400 files named in
 * `certFile`/`keyFile`/`caFile`), left alone when its block is not, and no secret value is ever
 * printed. The input is the ConfigMap's spec.json exactly as the operator writes it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { z } from "zod";
import { main } from "../../../lib/dataflow/cli.ts";
import { specJson } from "../../../lib/dataflow/builders.ts";
import {
  checkSpec,
  CONNECTOR_TYPES,
  type DataFlowSpec,
  DataFlowSpecSchema,
} from "../../../lib/dataflow/schema.ts";
import { secretRefFields } from "../../../lib/dataflow/secret-fields.ts";
import { renderSpecMain } from "../../../lib/dataflow/render-spec.ts";

// ---- the schema, walked through zod's own definitions (secrets.ts walks the JSON Schema) -------

type ZDef = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  entries?: Record<string, string>;
};
const def = (s: z.ZodType) => (s as unknown as { _zod: { def: ZDef } })._zod.def;

/** Every `*SecretRef` field: its path (`[]` for list items) and the names of its object's fields. */
function refFieldsOfSchema(): { path: string; siblings: string[] }[] {
  const out: { path: string; siblings: string[] }[] = [];
  const visit = (s: z.ZodType, path: string) => {
    const d = def(s);
    if (d.type === "optional") return visit(d.innerType!, path);
    if (d.type === "array") return visit(d.element!, `${path}[]`);
    if (d.type !== "object") return;
    for (const [k, child] of Object.entries(d.shape!)) {
      if (k.endsWith("SecretRef")) out.push({ path: `${path}.${k}`, siblings: Object.keys(d.shape!) });
      else visit(child, `${path}.${k}`);
    }
  };
  visit(DataFlowSpecSchema, "spec");
  return out;
}

/** The Go operator's rule for one ref field: which plain field it fills, and how. */
function goRule(path: string): { twin: string; target: "value" | "list" | "file" } {
  const key = path.split(".").at(-1)!;
  const base = key.slice(0, -"SecretRef".length);
  // resolveTLSConfig: cert/key/CA values become files, their paths CertFile/KeyFile/CAFile.
  if (["cert", "key", "ca"].includes(base) && /\.tls\.[a-z]+SecretRef$/.test(path)) {
    return { twin: `${base}File`, target: "file" };
  }
  // resolveKafka*Spec: comma-separated, trimmed, empties dropped.
  if (key === "brokersSecretRef") return { twin: "brokers", target: "list" };
  return { twin: base, target: "value" };
}

/** The connector type a ref path lives under (`spec.sink.trino.keycloak...` → trino). */
function connectorOf(path: string): string {
  const t = CONNECTOR_TYPES.find((c) => path.includes(`.${c}.`));
  assert.ok(t, `${path} is under no connector block`);
  return t;
}

/** The concrete path of a pattern in the specs built below (one transformation, one route). */
const concrete = (pattern: string) => pattern.replaceAll("[]", "[0]");

// ---- a maximal spec: every field filled, every ref a distinct Secret ---------------------------

interface Planted {
  path: string;
  secret: string;
  key: string;
  value: string;
  /** The unique part of the value, searched for in output. */
  marker: string;
  plain: unknown;
}

/**
 * Fills every field of the spec's source, sink, transformations and errors from the schema: plain
 * values `plain:<path>`, every ref a Secret of its own; `type` set to `connector` (and `router`).
 */
function maximalSpec(connector: string, planted: Map<string, Planted>): Record<string, unknown> {
  const fill = (s: z.ZodType, path: string): unknown => {
    const d = def(s);
    switch (d.type) {
      case "optional":
        return fill(d.innerType!, path);
      case "array":
        return [fill(d.element!, `${path}[0]`)];
      case "string":
        return `plain:${path}`;
      case "int":
      case "number":
        return 1;
      case "boolean":
        return false;
      case "enum": {
        const values = Object.values(d.entries!);
        if (values.includes(connector)) return connector;
        return values.includes("router") ? "router" : values[0];
      }
      case "object": {
        const obj: Record<string, unknown> = {};
        for (const [k, child] of Object.entries(d.shape!)) {
          const p = `${path}.${k}`;
          if (k.endsWith("SecretRef")) {
            const secret = `s-${planted.size}`;
            planted.set(p, { path: p, secret, key: "value", value: "", marker: "", plain: undefined });
            obj[k] = { name: secret, key: "value" };
          } else obj[k] = fill(child, p);
        }
        return obj;
      }
      default:
        return undefined; // records, unions: not in these blocks
    }
  };
  const shape = def(DataFlowSpecSchema).shape!;
  const spec: Record<string, unknown> = {};
  for (const part of ["source", "sink", "transformations", "errors"]) {
    spec[part] = fill(shape[part], `spec.${part}`);
  }
  return spec;
}

/** Follows a concrete path (`spec.a.b[0].c`) in an object. */
function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.replace(/^spec\./, "").replace(/\[(\d+)\]/g, ".$1").split(".")) {
    cur = (cur as Record<string, unknown> | undefined)?.[part];
  }
  return cur;
}

const PEM = (marker: string) => `-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----\n`;

/** Runs render-spec through the operator's own command line (`dataflow-operator render-spec`). */
async function render(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const code = await main(["render-spec", ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: {},
  });
  return { code, stdout, stderr };
}

/** A temp world: the ConfigMap's spec.json, the Secrets as the kubelet projects them, an output dir. */
function world() {
  const root = mkdtempSync(join(tmpdir(), "render-spec-"));
  const dirs = {
    root,
    spec: join(root, "config", "spec.json"),
    secrets: join(root, "secrets"),
    out: join(root, "out"),
  };
  mkdirSync(join(root, "config"));
  mkdirSync(dirs.secrets);
  mkdirSync(dirs.out);
  const secret = (name: string, key: string, value: string | Uint8Array) => {
    mkdirSync(join(dirs.secrets, name), { recursive: true });
    writeFileSync(join(dirs.secrets, name, key), value);
  };
  const args = (out = dirs.out) => [`--spec=${dirs.spec}`, "--secrets-dir", dirs.secrets, `--out=${out}`];
  return { ...dirs, secret, args, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A minimal valid ConfigMap spec with a sink whose fields are given. */
function cmSpec(source: Record<string, unknown>): string {
  const r = checkSpec({
    source: { type: "kafka", kafka: { brokers: ["k:9092"], topic: "t", ...source } },
    sink: { type: "postgresql", postgresql: { connectionString: "postgres://inline", table: "t" } },
  });
  assert.ok(r.ok, r.ok ? "" : r.problems.join("; "));
  return specJson(r.spec);
}

describe("render-spec: the processor's spec.json, resolved as the Go operator resolved it", () => {
  const fields = refFieldsOfSchema();

  it("enumerates the schema's SecretRef fields, and the renderer knows each by the Go operator's rule", () => {
    // A sanity floor (sources, sinks, error sink and router routes of three connector types).
    assert.ok(fields.length >= 80, `only ${fields.length} SecretRef fields found`);
    assert.deepEqual(
      secretRefFields().map((f) => f.path).sort(),
      fields.map((f) => f.path).sort(),
      "the renderer's fields are not the schema's",
    );
    for (const f of secretRefFields()) {
      assert.deepEqual({ twin: f.twin, target: f.target }, goRule(f.path), f.path);
      // Every ref has its plain twin in its object, so the processor has a field to read.
      const siblings = fields.find((x) => x.path === f.path)!.siblings;
      assert.ok(siblings.includes(goRule(f.path).twin), `${f.path}: no field ${goRule(f.path).twin}`);
    }
  });

  for (const connector of CONNECTOR_TYPES) {
    it(`resolves every SecretRef of the ${connector} blocks in use (source, sink, errors, routes), and no other`, async () => {
      const w = world();
      try {
        const planted = new Map<string, Planted>();
        // Every block filled, inactive ones too: the CRD refuses those (a type's block only, so the
        // largest spec fits its ConfigMap), yet the renderer must still leave them alone.
        const raw = maximalSpec(connector, planted);
        const cmText = specJson(raw as DataFlowSpec); // the ConfigMap's spec.json, as the operator writes it
        writeFileSync(w.spec, cmText);
        for (const p of planted.values()) {
          const rule = goRule(p.path.replaceAll("[0]", "[]"));
          const marker = p.marker = `sv-${randomBytes(8).toString("hex")}`;
          p.value = rule.target === "file"
            ? PEM(marker)
            : rule.target === "list"
            ? ` ${marker}-a:9092 , ,${marker}-b:9092,`
            : `${marker} exact bytes`;
          p.plain = at(raw, p.path.replace(/\.[A-Za-z]+SecretRef$/, `.${rule.twin}`));
          w.secret(p.secret, p.key, p.value);
        }

        const r = await render(w.args());
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(readFileSync(join(w.out, "spec.json"), "utf8"));
        let active = 0;
        for (const f of fields) {
          const path = concrete(f.path);
          const p = planted.get(path)!;
          const rule = goRule(f.path);
          const parentPath = path.replace(/\.[A-Za-z]+SecretRef$/, "");
          const parent = at(out, parentPath) as Record<string, unknown>;
          // The reference stays, with its API fields only, as in the Go operator's ConfigMap.
          assert.deepEqual(parent[path.split(".").at(-1)!], { name: p.secret, key: p.key }, path);
          if (connectorOf(f.path) !== connector) {
            // A block that is not in use is left as written (the Go operator skipped it too).
            assert.deepEqual(parent[rule.twin], p.plain, `${path}: an inactive block was resolved`);
            continue;
          }
          active++;
          if (rule.target === "value") {
            assert.equal(parent[rule.twin], p.value, `${path}: the ref must win over the inline value`);
          } else if (rule.target === "list") {
            assert.deepEqual(parent[rule.twin], [`${p.marker}-a:9092`, `${p.marker}-b:9092`], path);
          } else {
            const file = parent[rule.twin] as string;
            assert.ok(file.startsWith(join(w.out, "tls") + "/"), `${path}: ${file} is not in the output`);
            assert.equal(readFileSync(file, "utf8"), p.value, path);
            assert.equal(statSync(file).mode & 0o777, 0o400, `${file} mode`);
          }
        }
        assert.ok(active > 0);
        assert.match(r.stdout, new RegExp(`: ${active} secret reference\\(s\\) resolved, `));
        assert.equal(statSync(join(w.out, "spec.json")).mode & 0o777, 0o400);
        // Written through temporary files and renames: none left behind.
        const tlsDir = join(w.out, "tls");
        const written = [...readdirSync(w.out), ...(connector === "kafka" ? readdirSync(tlsDir) : [])];
        assert.deepEqual(written.filter((f) => f.endsWith(".tmp")), []);
        if (connector !== "kafka") assert.deepEqual(readdirSync(w.out), ["spec.json"]); // no TLS, no tls/
        // Not one secret value on the terminal, and none in the ConfigMap (the operator never had one).
        for (const p of planted.values()) {
          for (const text of [r.stdout, r.stderr, cmText]) assert.ok(!text.includes(p.marker), p.path);
        }
      } finally {
        w.cleanup();
      }
    });
  }

  it("a missing Secret file: exit 1, one line naming the field, Secret and key, no value, no spec.json", async () => {
    const w = world();
    try {
      writeFileSync(
        w.spec,
        cmSpec({
          sasl: { username: "u", passwordSecretRef: { name: "kafka", key: "password" } },
          topicSecretRef: { name: "kafka", key: "topic" },
        }),
      );
      w.secret("kafka", "password", "sv-never-printed");
      const r = await render(w.args());
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
      assert.match(
        r.stderr,
        /^error: render-spec: spec\.source\.kafka\.topicSecretRef: cannot read key topic of Secret kafka \(.*\/kafka\/topic\): no such file\n$/,
      );
      assert.ok(!r.stderr.includes("sv-never-printed"));
      assert.deepEqual(readdirSync(w.out), []);
    } finally {
      w.cleanup();
    }
  });

  it("a Secret key projected as a directory, or an unreadable spec, is one error line too", async () => {
    const w = world();
    try {
      writeFileSync(w.spec, cmSpec({ topicSecretRef: { name: "kafka", key: "topic" } }));
      mkdirSync(join(w.secrets, "kafka", "topic"), { recursive: true });
      const r = await render(w.args());
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: render-spec: spec\.source\.kafka\.topicSecretRef: .*: is a directory\n$/,
      );
      const r2 = await render([
        `--spec=${join(w.root, "nope.json")}`,
        `--secrets-dir=${w.secrets}`,
        `--out=${w.out}`,
      ]);
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /^error: render-spec: cannot read the spec .*nope\.json: no such file\n$/);
      writeFileSync(w.spec, "{not json");
      const r3 = await render(w.args());
      assert.equal(r3.code, 1);
      assert.equal(r3.stderr, "error: render-spec: the spec is not valid JSON\n");
    } finally {
      w.cleanup();
    }
  });

  it("TLS: a path value is used as the path (as the Go operator did), an empty CA is refused", async () => {
    const w = world();
    try {
      writeFileSync(
        w.spec,
        cmSpec({
          tls: {
            caSecretRef: { name: "tls", key: "ca.crt" },
            certSecretRef: { name: "tls", key: "cert-path" },
            certFile: "/inline/is/overridden",
          },
        }),
      );
      w.secret("tls", "ca.crt", PEM("ca"));
      w.secret("tls", "cert-path", "/etc/ssl/certs/client.pem");
      const r = await render(w.args());
      assert.equal(r.code, 0, r.stderr);
      const tls = JSON.parse(readFileSync(join(w.out, "spec.json"), "utf8")).source.kafka.tls;
      assert.equal(tls.certFile, "/etc/ssl/certs/client.pem");
      assert.equal(tls.caFile, join(w.out, "tls", "source.kafka.tls.ca.pem"));
      assert.deepEqual(readdirSync(join(w.out, "tls")), ["source.kafka.tls.ca.pem"]);

      // A re-render (a restarted pod) replaces the files in place; an empty CA is refused.
      w.secret("tls", "ca.crt", "");
      const empty = await render(w.args());
      assert.equal(empty.code, 1);
      assert.match(
        empty.stderr,
        /^error: render-spec: spec\.source\.kafka\.tls\.caSecretRef: key ca\.crt of Secret tls is empty/,
      );
      w.secret("tls", "ca.crt", PEM("rotated"));
      assert.equal((await render(w.args())).code, 0);
      assert.equal(readFileSync(tls.caFile, "utf8"), PEM("rotated"));
      assert.equal(statSync(tls.caFile).mode & 0o777, 0o400);
    } finally {
      w.cleanup();
    }
  });

  it("keeps a value's bytes exactly (newlines included) and refuses a reference that is not a file name", async () => {
    const w = world();
    try {
      writeFileSync(
        w.spec,
        cmSpec({ sasl: { username: "u", passwordSecretRef: { name: "kafka", key: "pw" } } }),
      );
      w.secret("kafka", "pw", "line1\nline2\n");
      assert.equal((await render(w.args())).code, 0);
      const out = JSON.parse(readFileSync(join(w.out, "spec.json"), "utf8"));
      assert.equal(out.source.kafka.sasl.password, "line1\nline2\n");
      assert.equal(out.source.kafka.sasl.username, "u");
      writeFileSync(w.spec, cmSpec({ topicSecretRef: { name: "kafka", key: "../../etc/passwd" } }));
      const r = await render(w.args());
      assert.equal(r.code, 1);
      assert.match(r.stderr, /spec\.source\.kafka\.topicSecretRef: .* is not a file name/);
    } finally {
      w.cleanup();
    }
  });

  it("its command line: --help, flags in either spelling, a bad or missing flag exits 2", async () => {
    const help = await renderSpecMain(["--help"], {
      stdout: (t) => assert.match(t, /--secrets-dir/),
      stderr: () => {},
    });
    assert.equal(help, 0);
    const unknown = await render(["--bogus=1"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "error: render-spec: unknown flag --bogus; see render-spec --help\n");
    const missing = await render(["--spec", "/x"]);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr,
      "error: render-spec: missing --secrets-dir, --out; see render-spec --help\n",
    );
    const noValue = await render(["--out"]);
    assert.equal(noValue.code, 2);
    assert.match(noValue.stderr, /flag --out needs a value/);
  });
});
