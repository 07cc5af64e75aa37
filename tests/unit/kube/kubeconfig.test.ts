import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../lib/kube/config.ts";
import { ConfigError } from "../../../lib/kube/errors.ts";
import { kubeconfigPaths, loadKubeconfig, resolveContext } from "../../../lib/kube/kubeconfig.ts";

let dir: string;
const b64 = (s: string) => btoa(s);

function kc(
  opts: { server?: string; user?: Record<string, unknown>; cluster?: Record<string, unknown>; ctx?: string } =
    {},
) {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": opts.ctx ?? "c1",
    clusters: [{ name: "k", cluster: { server: opts.server ?? "https://127.0.0.1:6443", ...opts.cluster } }],
    users: [{ name: "u", user: opts.user ?? { token: "t0k" } }],
    contexts: [{ name: "c1", context: { cluster: "k", user: "u", namespace: "team-a" } }, {
      name: "c2",
      context: { cluster: "k", user: "u" },
    }],
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kc-unit-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("kubeconfig: where files come from", () => {
  it("uses the explicit path, else the KUBECONFIG list, else ~/.kube/config", () => {
    assert.deepEqual(kubeconfigPaths("/x/a", { KUBECONFIG: "/y/b" }), ["/x/a"]);
    assert.deepEqual(kubeconfigPaths(undefined, { KUBECONFIG: "/y/b:/y/c" }), ["/y/b", "/y/c"]);
    assert.deepEqual(kubeconfigPaths(undefined, { HOME: "/home/me" }), ["/home/me/.kube/config"]);
  });

  it("fails clearly for a missing explicit file, and when nothing is configured", async () => {
    await assert.rejects(loadConfig({ kubeconfig: join(dir, "nope") }), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /kubeconfig .*nope does not exist/);
      return true;
    });
    await assert.rejects(
      loadConfig({ env: { HOME: join(dir, "empty-home") } }),
      /no cluster configured: pass --kubeconfig/,
    );
  });

  it("skips missing files in the KUBECONFIG list but fails when none exists", async () => {
    const f = join(dir, "list-ok");
    await writeFile(f, kc());
    const cfg = await loadConfig({ env: { KUBECONFIG: `${join(dir, "missing")}:${f}` } });
    assert.equal(cfg.namespace, "team-a");
    await assert.rejects(loadConfig({ env: { KUBECONFIG: join(dir, "missing") } }), /no kubeconfig found/);
  });
});

describe("kubeconfig: contexts and namespaces", () => {
  it("takes the context's namespace, defaulting to default; --context picks another", async () => {
    const f = join(dir, "ctx");
    await writeFile(f, kc());
    assert.equal((await loadConfig({ kubeconfig: f })).namespace, "team-a");
    assert.equal((await loadConfig({ kubeconfig: f, context: "c2" })).namespace, "default");
  });

  it("names the file and the available contexts for an unknown context", async () => {
    const f = join(dir, "ctx2");
    await writeFile(f, kc());
    await assert.rejects(loadConfig({ kubeconfig: f, context: "prod" }), (e: Error) => {
      assert.match(e.message, /context "prod" not found in kubeconfig .*ctx2; available: c1, c2/);
      return true;
    });
  });

  it("rejects malformed YAML naming the file", async () => {
    const f = join(dir, "bad.yaml");
    await writeFile(f, "clusters: [\n  - name: x\n   bad");
    await assert.rejects(loadConfig({ kubeconfig: f }), /kubeconfig .*bad\.yaml is not valid YAML/);
  });

  it("merges a KUBECONFIG list first-wins per name and takes the first current-context", async () => {
    const a = join(dir, "m-a"), b = join(dir, "m-b");
    await writeFile(a, JSON.stringify({ users: [{ name: "u", user: { token: "from-a" } }] }));
    await writeFile(b, kc({ user: { token: "from-b" } }));
    const merged = await loadKubeconfig([a, b]);
    const cfg = await resolveContext(merged);
    assert.equal((await cfg.credentials.get()).token, "from-a");
    assert.equal(cfg.contextName, "c1");
  });
});

describe("kubeconfig: certificates and keys", () => {
  it("rejects a certificate that is not PEM, naming the user and file but not the data", async () => {
    const f = join(dir, "badcert");
    await writeFile(
      f,
      kc({ user: { "client-certificate-data": b64("hello"), "client-key-data": b64("secret-key-bytes") } }),
    );
    await assert.rejects(loadConfig({ kubeconfig: f }), (e: Error) => {
      assert.match(e.message, /user "u" in .*badcert client certificate holds no PEM certificate/);
      assert.doesNotMatch(e.message, /secret-key-bytes/);
      return true;
    });
  });

  it("rejects a malformed certificate body and a malformed key", async () => {
    const f = join(dir, "badbody");
    const fakeCert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    await writeFile(f, kc({ cluster: { "certificate-authority-data": b64(fakeCert) } }));
    await assert.rejects(
      loadConfig({ kubeconfig: f }),
      /cluster "k" in .*certificate-authority holds a malformed certificate/,
    );
  });

  it("reports an unreadable certificate file with its resolved path", async () => {
    await mkdir(join(dir, "sub"), { recursive: true });
    const f = join(dir, "sub", "relcert");
    await writeFile(f, kc({ user: { "client-certificate": "certs/me.crt", "client-key": "certs/me.key" } }));
    await assert.rejects(loadConfig({ kubeconfig: f }), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`cannot read ${join(dir, "sub", "certs", "me.crt").replace(/[/.]/g, "\\$&")}`),
      );
      return true;
    });
  });

  it("refuses a CA together with insecure-skip-tls-verify", async () => {
    const f = join(dir, "insecure-ca");
    await writeFile(
      f,
      kc({ cluster: { "certificate-authority": "/etc/hostname", "insecure-skip-tls-verify": true } }),
    );
    await assert.rejects(
      loadConfig({ kubeconfig: f }),
      /holds no PEM certificate|root certificates file with the insecure flag/,
    );
  });

  it("refuses removed auth providers with a pointer to exec plugins", async () => {
    const f = join(dir, "authprov");
    await writeFile(f, kc({ user: { "auth-provider": { name: "gcp" } } }));
    await assert.rejects(
      loadConfig({ kubeconfig: f }),
      /auth-provider "gcp" is not supported; configure an exec credential plugin/,
    );
  });

  it("rejects a cluster without a server, and an unsupported exec apiVersion", async () => {
    const f = join(dir, "noserver");
    await writeFile(f, kc({ server: "" }));
    await assert.rejects(loadConfig({ kubeconfig: f }), /cluster "k" in .* has no server/);
    const g = join(dir, "execv");
    await writeFile(
      g,
      kc({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" } } }),
    );
    await assert.rejects(
      loadConfig({ kubeconfig: g }),
      /exec plugin apiVersion "client.authentication.k8s.io\/v1alpha1" is not supported/,
    );
  });
});
