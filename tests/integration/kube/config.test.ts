/**
 * Every configuration source against the real API server: client certificates in three key
 * encodings, KUBECONFIG merging, relative paths, *-data over files, tokens and token files,
 * exec plugins (v1 and v1beta1, caching, re-run on 401), insecure-skip-tls-verify, and in-cluster
 * with a rotating service-account token.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../../lib/kube/config.ts";
import { ConfigError, UnauthorizedError } from "../../../lib/kube/errors.ts";
import { inClusterConfig } from "../../../lib/kube/incluster.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { HttpTransport } from "../../../lib/kube/transport.ts";
import { runtimeName } from "../../../lib/kube/tls.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { testControlPlane } from "../../controlplane/env.ts";
import { waitFor } from "../../tools/wait.ts";

let cp: ControlPlane;
let dir: string;

/** Who the server thinks we are (SelfSubjectReview). */
async function whoami(client: KubeClient): Promise<string> {
  const r = await client.postRaw<{ status: { userInfo: { username: string } } }>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  );
  return r.status.userInfo.username;
}

async function whoamiWith(
  kubeconfig: string,
  context?: string,
  env: Record<string, string> = {},
): Promise<string> {
  const conn = await connect({ kubeconfig, context, env: { ...env } });
  try {
    return await whoami(conn.client);
  } finally {
    conn.close();
  }
}

function kubeconfig(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  name = "u",
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{
      name: "k",
      cluster: { server: cp.info.server, "certificate-authority": cp.info.caPath, ...cluster },
    }],
    users: [{ name, user }],
    contexts: [{ name: "c", context: { cluster: "k", user: name } }],
  });
}

before(async () => {
  cp = await testControlPlane();
  dir = await mkdtemp(join(tmpdir(), "kube-config-it-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("client certificates", () => {
  for (const format of ["pkcs8", "pkcs1", "sec1"] as const) {
    it(`authenticates with a ${format} key from *-data fields`, async () => {
      const id = await cp.mintUser(`cert-${format}`, ["dev"], format);
      assert.equal(await whoamiWith(id.kubeconfigPath), `cert-${format}`);
    });
  }

  it("resolves relative certificate paths against their own kubeconfig's directory", async () => {
    const id = await cp.mintUser("relative-user");
    const sub = join(dir, "rel", "nested");
    await mkdir(join(sub, "certs"), { recursive: true });
    await writeFile(join(sub, "certs", "me.crt"), id.cert!);
    await writeFile(join(sub, "certs", "me.key"), id.key!);
    await writeFile(
      join(sub, "config"),
      kubeconfig({ "client-certificate": "certs/me.crt", "client-key": "certs/me.key" }),
    );
    assert.equal(await whoamiWith(join(sub, "config")), "relative-user");
  });

  it("prefers *-data over the file fields", async () => {
    const data = await cp.mintUser("data-wins");
    const file = await cp.mintUser("file-loses");
    await writeFile(join(dir, "f.crt"), file.cert!);
    await writeFile(join(dir, "f.key"), file.key!);
    const path = join(dir, "data-over-file");
    await writeFile(
      path,
      kubeconfig({
        "client-certificate": join(dir, "f.crt"),
        "client-key": join(dir, "f.key"),
        "client-certificate-data": btoa(data.cert!),
        "client-key-data": btoa(data.key!),
      }),
    );
    assert.equal(await whoamiWith(path), "data-wins");
  });

  it("merges KUBECONFIG first-wins: the first file's user is used whole", async () => {
    const first = await cp.mintUser("first-file-user");
    const second = await cp.mintUser("second-file-user");
    const a = join(dir, "merge-a"), b = join(dir, "merge-b");
    await writeFile(
      a,
      JSON.stringify({
        users: [{
          name: "u",
          user: { "client-certificate-data": btoa(first.cert!), "client-key-data": btoa(first.key!) },
        }],
      }),
    );
    await writeFile(
      b,
      kubeconfig({ "client-certificate-data": btoa(second.cert!), "client-key-data": btoa(second.key!) }),
    );
    const conn = await connect({ env: { KUBECONFIG: `${a}:${b}` } });
    assert.equal(await whoami(conn.client), "first-file-user");
    conn.close();
  });
});

describe("tokens", () => {
  it("authenticates with a static token and with a token file", async () => {
    const p = join(dir, "token");
    await writeFile(p, kubeconfig({ token: cp.info.adminToken }));
    assert.equal(await whoamiWith(p), "token-admin");
    await writeFile(join(dir, "tok.txt"), `${cp.info.adminToken}\n`);
    await writeFile(join(dir, "tokenfile"), kubeconfig({ tokenFile: "tok.txt" }));
    assert.equal(await whoamiWith(join(dir, "tokenfile")), "token-admin");
  });

  it("surfaces a refused token as UnauthorizedError", async () => {
    const p = join(dir, "badtoken");
    await writeFile(p, kubeconfig({ token: "not-a-valid-token" }));
    await assert.rejects(whoamiWith(p), UnauthorizedError);
  });
});

describe("exec credential plugins", () => {
  /** A plugin that logs each run and prints the token from `tokens` line N (last line repeats). */
  async function plugin(
    name: string,
    apiVersion: string,
    tokens: string[],
    expiresInSec?: number,
  ): Promise<string> {
    const script = join(dir, `${name}.sh`);
    const runs = join(dir, `${name}.runs`);
    await writeFile(join(dir, `${name}.tokens`), tokens.join("\n") + "\n");
    await writeFile(
      script,
      `#!/usr/bin/env bash
echo run >> ${JSON.stringify(runs)}
n=$(wc -l < ${JSON.stringify(runs)})
total=$(wc -l < ${JSON.stringify(join(dir, `${name}.tokens`))})
[ "$n" -gt "$total" ] && n=$total
tok=$(sed -n "\${n}p" ${JSON.stringify(join(dir, `${name}.tokens`))})
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 3;; esac
${expiresInSec !== undefined ? `exp=$(date -u -d "+${expiresInSec} seconds" +%Y-%m-%dT%H:%M:%SZ)` : 'exp=""'}
if [ -n "$exp" ]; then
  printf '{"apiVersion":"${apiVersion}","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$tok" "$exp"
else
  printf '{"apiVersion":"${apiVersion}","kind":"ExecCredential","status":{"token":"%s"}}' "$tok"
fi
`,
    );
    await chmod(script, 0o755);
    const kc = join(dir, `${name}.kubeconfig`);
    await writeFile(
      kc,
      kubeconfig({ exec: { apiVersion, command: `./${name}.sh`, interactiveMode: "Never" } }),
    );
    return kc;
  }
  const runs = async (name: string) =>
    (await readFile(join(dir, `${name}.runs`), "utf8")).trim().split("\n").length;

  for (const v of ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]) {
    it(`${v}: runs once and caches the credential for many requests`, async () => {
      const name = `cache-${v.split("/")[1]}`;
      const kc = await plugin(name, v, [cp.info.adminToken], 3600);
      const conn = await connect({ kubeconfig: kc });
      for (let i = 0; i < 5; i++) assert.equal(await whoami(conn.client), "token-admin");
      conn.close();
      assert.equal(await runs(name), 1);
    });
  }

  it("runs again after a 401 and succeeds with the new credential", async () => {
    const kc = await plugin(
      "rotate",
      "client.authentication.k8s.io/v1",
      ["stale-token", cp.info.adminToken],
      3600,
    );
    assert.equal(await whoamiWith(kc), "token-admin");
    assert.equal(await runs("rotate"), 2);
  });

  it("runs again once the credential expired", async () => {
    const kc = await plugin("expiry", "client.authentication.k8s.io/v1", [cp.info.adminToken], 1);
    const conn = await connect({ kubeconfig: kc });
    try {
      await whoami(conn.client);
      assert.equal(await runs("expiry"), 1);
      // Requests keep going out; once the 1 s credential expired, one of them runs the plugin again.
      await waitFor("the plugin to run again after its credential expired", async () => {
        await whoami(conn.client);
        return (await runs("expiry")) === 2;
      });
    } finally {
      conn.close();
    }
  });

  it("reports a failing plugin with its exit code and stderr, and garbage output without quoting it", async () => {
    const fail = join(dir, "fail.sh");
    await writeFile(fail, "#!/usr/bin/env bash\necho 'login expired, run sso-login' >&2\nexit 4\n");
    await chmod(fail, 0o755);
    const kc1 = join(dir, "fail.kubeconfig");
    await writeFile(
      kc1,
      kubeconfig({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: fail } }),
    );
    await assert.rejects(whoamiWith(kc1), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /user "u": exec plugin ".*fail\.sh" failed \(exit 4\): login expired, run sso-login/,
      );
      return true;
    });
    const junk = join(dir, "junk.sh");
    await writeFile(junk, "#!/usr/bin/env bash\necho 'token=supersecret123'\n");
    await chmod(junk, 0o755);
    const kc2 = join(dir, "junk.kubeconfig");
    await writeFile(
      kc2,
      kubeconfig({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: junk } }),
    );
    await assert.rejects(whoamiWith(kc2), (e: Error) => {
      assert.match(e.message, /printed output that is not JSON/);
      assert.doesNotMatch(e.message, /supersecret123/);
      return true;
    });
    const kc3 = join(dir, "missing.kubeconfig");
    await writeFile(
      kc3,
      kubeconfig({
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "no-such-plugin-xyz",
          installHint: "install it with brew",
        },
      }),
    );
    await assert.rejects(
      whoamiWith(kc3),
      /exec plugin "no-such-plugin-xyz" was not found\. install it with brew/,
    );
  });
});

describe("insecure-skip-tls-verify", () => {
  it(
    runtimeName() === "deno" ? "is refused on Deno with the workaround named" : "connects without a CA",
    async () => {
      const p = join(dir, "insecure");
      await writeFile(
        p,
        JSON.stringify({
          "current-context": "c",
          clusters: [{ name: "k", cluster: { server: cp.info.server, "insecure-skip-tls-verify": true } }],
          users: [{ name: "u", user: { token: cp.info.adminToken } }],
          contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        }),
      );
      if (runtimeName() === "deno") {
        await assert.rejects(
          whoamiWith(p),
          /insecure-skip-tls-verify is not available per connection on Deno.*--unsafely-ignore-certificate-errors/,
        );
      } else {
        assert.equal(await whoamiWith(p), "token-admin");
      }
    },
  );

  it("without the flag or a CA, an untrusted server certificate is refused", async () => {
    const p = join(dir, "no-ca");
    await writeFile(
      p,
      JSON.stringify({
        "current-context": "c",
        clusters: [{ name: "k", cluster: { server: cp.info.server } }],
        users: [{ name: "u", user: { token: cp.info.adminToken } }],
        contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
      }),
    );
    // Named in words, the same on every runtime (Deno's rustls says UnknownIssuer, Bun a Node code).
    await assert.rejects(
      whoamiWith(p),
      /TLS: the certificate of 127\.0\.0\.1:\d+ is not signed by a trusted certificate authority/,
    );
  });
});

describe("in-cluster", () => {
  it("uses the service environment, the SA token, its CA and namespace, and follows token rotation", async () => {
    const ns = `incluster-${Date.now().toString(36)}`;
    const one = await cp.serviceAccountToken(ns, "one");
    const two = await cp.serviceAccountToken(ns, "two");
    const sa = join(dir, "sa");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), one.token!);
    await writeFile(join(sa, "ca.crt"), cp.info.ca);
    await writeFile(join(sa, "namespace"), ns);
    const port = new URL(cp.info.server).port;
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port };
    const cfg = await inClusterConfig({ env, dir: sa, tokenRefreshMs: 200 });
    assert.equal(cfg.namespace, ns);
    assert.equal(cfg.server, `https://127.0.0.1:${port}`);
    const client = new KubeClient(new HttpTransport(cfg), { namespace: cfg.namespace });
    assert.equal(await whoami(client), `system:serviceaccount:${ns}:one`);
    // The kubelet rotates the file: the new token is used after the refresh interval.
    await writeFile(join(sa, "token"), two.token!);
    await waitFor(
      "the rotated token in use",
      async () => (await whoami(client)) === `system:serviceaccount:${ns}:two`,
    );

    // POD_NAMESPACE wins over the namespace file.
    assert.equal(
      (await inClusterConfig({ env: { ...env, POD_NAMESPACE: "from-env" }, dir: sa })).namespace,
      "from-env",
    );
  });

  it("re-reads the token at once after a 401", async () => {
    const ns = `incluster401-${Date.now().toString(36)}`;
    const one = await cp.serviceAccountToken(ns, "one");
    const two = await cp.serviceAccountToken(ns, "two");
    const sa = join(dir, "sa401");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), one.token!);
    await writeFile(join(sa, "ca.crt"), cp.info.ca);
    const env = {
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: new URL(cp.info.server).port,
    };
    const cfg = await inClusterConfig({ env, dir: sa, tokenRefreshMs: 3_600_000 });
    const client = new KubeClient(new HttpTransport(cfg));
    assert.equal(await whoami(client), `system:serviceaccount:${ns}:one`);
    // Deleting the ServiceAccount invalidates its tokens: a request gets a 401 once the API server's
    // token-authentication cache (10 s) lets go of the old token.
    await writeFile(join(sa, "token"), two.token!);
    await cp.kubectlOk(["-n", ns, "delete", "serviceaccount", "one"]);
    await waitFor(
      "the new token in use after a 401",
      async () => (await whoami(client)) === `system:serviceaccount:${ns}:two`,
    );
  });

  it("fails clearly outside a cluster", async () => {
    await assert.rejects(
      inClusterConfig({ env: {} }),
      /not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/,
    );
  });
});
