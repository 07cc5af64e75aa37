/**
 * A real control plane for integration tests: etcd and kube-apiserver (built by build.sh) on
 * free loopback ports, with generated certificates, RBAC, an admin identity, and identities
 * minted on demand. Every process is watched by a guard that kills it when this process dies,
 * so no stray servers outlive a crashed test run.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type CertAuthority, createCa, issueCert, type KeyFormat } from "./certs.ts";
import { waitFor } from "../tools/wait.ts";

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** Builds (or finds in the cache) the control-plane binaries; returns their directory. */
export async function controlPlaneBinaries(): Promise<string> {
  if (process.env.DATAFLOW_CONTROLPLANE_BIN) return process.env.DATAFLOW_CONTROLPLANE_BIN;
  return await new Promise((resolve, reject) => {
    const child = spawn("bash", [join(here, "build.sh")], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => out += d);
    child.on("error", reject);
    child.on("exit", (code) => {
      const bin = out.trim().split("\n").pop() ?? "";
      if (code === 0 && bin) resolve(bin);
      else reject(new Error(`building the test control plane failed (exit ${code}); see the log above`));
    });
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** An identity that can talk to the control plane. */
export interface Identity {
  name: string;
  kubeconfigPath: string;
  cert?: string;
  key?: string;
  token?: string;
}

/** The descriptor a test run shares with its test files (see env.ts). */
export interface ControlPlaneInfo {
  dir: string;
  binDir: string;
  server: string;
  caPath: string;
  ca: string;
  admin: Identity;
  /** A static token of the token-auth file (user "token-admin", group system:masters). */
  adminToken: string;
  etcdUrl: string;
  /**
   * The API server's audit log (JSON lines, level Metadata): every request of a ServiceAccount of
   * {@link AUDITED_NAMESPACE}, i.e. of the operator as installed, and nothing else.
   */
  auditLogPath: string;
}

/** The namespace whose ServiceAccounts' requests the audit log records (the operator's, as deploy/ installs it). */
export const AUDITED_NAMESPACE = "dataflow-system";

/** Writes a kubeconfig for one identity. */
export async function writeKubeconfig(
  path: string,
  server: string,
  caPath: string,
  user: { cert?: string; key?: string; token?: string; name: string },
  namespace = "default",
): Promise<void> {
  const u: string[] = [];
  if (user.cert) {
    u.push(`    client-certificate-data: ${btoa(user.cert)}`, `    client-key-data: ${btoa(user.key!)}`);
  }
  if (user.token) u.push(`    token: ${user.token}`);
  await writeFile(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${server}
    certificate-authority: ${caPath}
users:
- name: ${user.name}
  user:
${u.join("\n")}
contexts:
- name: test
  context:
    cluster: test
    user: ${user.name}
    namespace: ${namespace}
current-context: test
`,
  );
}

/**
 * Starts a process under a guard shell that stops it (TERM, then KILL after 10 s) when the guard is
 * told to, or when this test process disappears — then also removes `orphanDir`, so a test run
 * that was killed leaves neither servers nor temp files behind.
 */
function guarded(bin: string, args: string[], logPath: string, orphanDir?: string): ChildProcess {
  const script = `"$@" & child=$!
stop() { kill -TERM $child 2>/dev/null; for _ in $(seq 100); do kill -0 $child 2>/dev/null || break; sleep 0.1; done
  kill -KILL $child 2>/dev/null; wait $child 2>/dev/null; }
trap 'stop; exit 0' TERM INT
while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1 & wait $!; done
if ! kill -0 ${process.pid} 2>/dev/null; then stop; ${
    orphanDir ? `sleep 3; rm -rf ${JSON.stringify(orphanDir)}` : ":"
  }; fi`;
  // Its own process group, so that a last-resort kill of the group takes the server down with it.
  return spawn("bash", ["-c", `exec >>${JSON.stringify(logPath)} 2>&1; ${script}`, "guard", bin, ...args], {
    stdio: "ignore",
    detached: true,
  });
}

/** Waits for one of the control plane's servers; a timeout says it did not start, with its log's tail. */
async function waitReady(what: string, check: () => Promise<boolean>, timeoutMs: number, logPath: string) {
  try {
    await waitFor(what, () => check().catch(() => false), { timeoutMs, intervalMs: 200 });
  } catch {
    const tail = (await readFile(logPath, "utf8").catch(() => "")).split("\n").slice(-25).join("\n");
    throw new Error(
      `the test control plane did not start: ${what} not ready after ${timeoutMs} ms. Log tail:\n${tail}`,
    );
  }
}

/** GET over HTTPS trusting the test CA, from node:https (works on Deno, Bun and Node). */
async function httpsGetStatus(url: string, caPath: string): Promise<number> {
  const https = await import("node:https");
  const ca = await readFile(caPath, "utf8");
  return await new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

/** A running control plane. Call {@link ControlPlane.stop} in teardown. */
export class ControlPlane {
  #etcd?: ChildProcess;
  #apiserver?: ChildProcess;
  #ca!: CertAuthority;
  #apiArgs: string[] = [];
  #users = Math.floor(Math.random() * 1e6);
  #attached = false;
  info!: ControlPlaneInfo;
  #keepAuditLog = true;
  #extraEtcdArgs: string[] = [];
  #extraApiArgs: string[] = [];

  /** A handle on a control plane another process started (kubectl and minting work; restarts do not). */
  static attach(info: ControlPlaneInfo, ca: { certPath: string; keyPath: string }): ControlPlane {
    const cp = new ControlPlane();
    cp.info = info;
    cp.#ca = { dir: join(info.dir, "pki"), ...ca };
    cp.#attached = true;
    return cp;
  }

  /**
   * Starts etcd and kube-apiserver; throws with the log tail when either does not come up.
   * `keepAudit: false` keeps this control plane's audit log out of tests/audit's comparison: for a
   * test that takes the operator's permissions away on purpose (its 403s are the point).
   * `etcdArgs` and `apiserverArgs` are appended to the default flags (a later flag wins), e.g. a
   * larger etcd quota for a benchmark; the defaults are unchanged without them.
   */
  static async start(
    options: { binDir?: string; keepAudit?: boolean; etcdArgs?: string[]; apiserverArgs?: string[] } = {},
  ): Promise<ControlPlane> {
    const cp = new ControlPlane();
    cp.#keepAuditLog = options.keepAudit !== false;
    cp.#extraEtcdArgs = options.etcdArgs ?? [];
    cp.#extraApiArgs = options.apiserverArgs ?? [];
    try {
      await cp.#start(options.binDir ?? await controlPlaneBinaries());
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  async #start(binDir: string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "dataflow-cp-"));
    const pki = join(dir, "pki");
    await mkdir(pki);
    this.#ca = await createCa(pki);
    const serving = await issueCert(this.#ca, "apiserver", { cn: "kube-apiserver" }, { serving: true });
    const admin = await issueCert(this.#ca, "admin", { cn: "admin", orgs: ["system:masters"] });
    const saKey = join(pki, "sa.key");
    await execFileP("openssl", ["genrsa", "-out", saKey, "2048"]);
    await execFileP("openssl", ["rsa", "-in", saKey, "-pubout", "-out", join(pki, "sa.pub")]);
    const adminToken = crypto.randomUUID();
    await writeFile(join(pki, "tokens.csv"), `${adminToken},token-admin,token-admin-uid,"system:masters"\n`);
    // What the operator's ServiceAccount does, for the tests that compare it with what RBAC grants.
    const auditPolicy = join(dir, "audit-policy.yaml");
    await writeFile(
      auditPolicy,
      `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts:${AUDITED_NAMESPACE}"]
  - level: None
`,
    );

    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdLog = join(dir, "etcd.log");
    this.#etcd = guarded(
      join(binDir, "etcd"),
      [
        "--data-dir",
        join(dir, "etcd"),
        "--listen-client-urls",
        etcdUrl,
        "--advertise-client-urls",
        etcdUrl,
        "--listen-peer-urls",
        `http://127.0.0.1:${peerPort}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peerPort}`,
        "--initial-cluster",
        `default=http://127.0.0.1:${peerPort}`,
        "--unsafe-no-fsync",
        "--log-level",
        "warn",
        ...this.#extraEtcdArgs,
      ],
      etcdLog,
      dir,
    );
    await waitReady("etcd", async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, etcdLog);

    const server = `https://127.0.0.1:${apiPort}`;
    this.#apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, "certs")}`,
      `--tls-cert-file=${serving.certPath}`,
      `--tls-private-key-file=${serving.keyPath}`,
      `--client-ca-file=${this.#ca.certPath}`,
      `--token-auth-file=${join(pki, "tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(pki, "sa.pub")}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--disable-admission-plugins=ServiceAccount",
      // As on real clusters (OpenShift, many distributions): setting blockOwnerDeletion needs
      // update on the owner's finalizers subresource, so the RBAC grant for it is proven here.
      "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
      `--audit-policy-file=${auditPolicy}`,
      `--audit-log-path=${join(dir, "audit.log")}`,
      "--audit-log-format=json",
      "--audit-log-mode=blocking",
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      "-v=0",
      ...this.#extraApiArgs,
    ];
    const adminKubeconfig = join(dir, "admin.kubeconfig");
    await writeKubeconfig(adminKubeconfig, server, this.#ca.certPath, { name: "admin", ...admin });
    this.info = {
      dir,
      binDir,
      server,
      caPath: this.#ca.certPath,
      ca: await readFile(this.#ca.certPath, "utf8"),
      admin: { name: "admin", kubeconfigPath: adminKubeconfig, cert: admin.cert, key: admin.key },
      adminToken,
      etcdUrl,
      auditLogPath: join(dir, "audit.log"),
    };
    await this.startApiserver();
  }

  /** Starts kube-apiserver (again, on the same port, after {@link stopApiserver}) and waits for /readyz. */
  async startApiserver(): Promise<void> {
    const log = join(this.info.dir, "apiserver.log");
    this.#apiserver = guarded(join(this.info.binDir, "kube-apiserver"), this.#apiArgs, log);
    await waitReady(
      "kube-apiserver /readyz",
      async () => await httpsGetStatus(`${this.info.server}/readyz`, this.info.caPath) === 200,
      90_000,
      log,
    );
    await waitReady(
      "namespace default",
      async () => {
        const r = await this.kubectl(["get", "namespace", "default", "-o", "name"]);
        return r.code === 0;
      },
      30_000,
      log,
    );
  }

  /** Stops kube-apiserver only (etcd keeps the data), e.g. to test recovery across a restart. */
  async stopApiserver(): Promise<void> {
    if (this.#attached) throw new Error("stopApiserver: start a control plane of your own to restart it");
    await stopProcess(this.#apiserver);
    this.#apiserver = undefined;
  }

  /**
   * Compacts etcd's history at its current revision (what the API server does every 5 minutes),
   * so any older resourceVersion is gone and watches or lists from it get 410 Expired.
   */
  async compactEtcd(): Promise<number> {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${this.info.etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
      return await res.json();
    };
    const range = await post("/v3/kv/range", { key: btoa("compact-probe") });
    const revision = Number(range.header.revision);
    await post("/v3/kv/compaction", { revision, physical: true });
    return revision;
  }

  /** Runs kubectl as admin (or with another kubeconfig); never throws on a non-zero exit. */
  async kubectl(
    args: string[],
    options: { kubeconfig?: string; input?: string } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return await new Promise((resolve) => {
      const child = spawn(join(this.info.binDir, "kubectl"), [
        `--kubeconfig=${options.kubeconfig ?? this.info.admin.kubeconfigPath}`,
        ...args,
      ], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "", stderr = "";
      child.stdout!.on("data", (d) => stdout += d);
      child.stderr!.on("data", (d) => stderr += d);
      child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
      child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin!.end(options.input ?? "");
    });
  }

  /** kubectl that must succeed; returns stdout. */
  async kubectlOk(args: string[], options: { kubeconfig?: string; input?: string } = {}): Promise<string> {
    const r = await this.kubectl(args, options);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** Mints a client-certificate identity (CN=name, O=groups) with its own kubeconfig. */
  async mintUser(name: string, groups: string[] = [], keyFormat: KeyFormat = "pkcs8"): Promise<Identity> {
    const id = `user-${++this.#users}-${name.replace(/[^a-z0-9-]/gi, "")}`;
    const c = await issueCert(this.#ca, id, { cn: name, orgs: groups }, { keyFormat });
    const kubeconfigPath = join(this.info.dir, `${id}.kubeconfig`);
    await writeKubeconfig(kubeconfigPath, this.info.server, this.info.caPath, {
      name,
      cert: c.cert,
      key: c.key,
    });
    return { name, kubeconfigPath, cert: c.cert, key: c.key };
  }

  /** Creates a ServiceAccount (if needed) and returns a token for it from the TokenRequest API. */
  async serviceAccountToken(namespace: string, name: string, seconds = 3600): Promise<Identity> {
    await this.kubectl(["create", "namespace", namespace]);
    await this.kubectl(["-n", namespace, "create", "serviceaccount", name]);
    const token = (await this.kubectlOk(["-n", namespace, "create", "token", name, `--duration=${seconds}s`]))
      .trim();
    const kubeconfigPath = join(this.info.dir, `sa-${namespace}-${name}.kubeconfig`);
    await writeKubeconfig(kubeconfigPath, this.info.server, this.info.caPath, { name, token }, namespace);
    return { name: `system:serviceaccount:${namespace}:${name}`, kubeconfigPath, token };
  }

  async #keepAudit(into: string): Promise<void> {
    const rbac = await this.kubectl([
      "get",
      "clusterroles,clusterrolebindings,roles,rolebindings",
      "-A",
      "-o",
      "json",
    ]);
    const log = await readFile(this.info.auditLogPath, "utf8").catch(() => "");
    // Nothing audited (no request of the operator's namespace): nothing to keep.
    if (rbac.code !== 0 || !log) return;
    const base = join(into, basename(this.info.dir));
    await mkdir(into, { recursive: true });
    await writeFile(`${base}.audit.log`, log);
    await writeFile(`${base}.rbac.json`, rbac.stdout);
  }

  /**
   * Stops everything and removes the temporary directory. When DATAFLOW_AUDIT_DIR is set (the test
   * run sets it for the end-to-end suites), the audit log and a snapshot of the RBAC objects are
   * kept there first: tests/audit compares what RBAC granted the operator with what it used.
   */
  async stop(): Promise<void> {
    if (this.#attached) return;
    if (process.env.DATAFLOW_AUDIT_DIR && this.#keepAuditLog && this.#apiserver) {
      await this.#keepAudit(process.env.DATAFLOW_AUDIT_DIR);
    }
    await stopProcess(this.#apiserver);
    await stopProcess(this.#etcd);
    this.#apiserver = this.#etcd = undefined;
    if (this.info?.dir && !process.env.DATAFLOW_KEEP_CONTROLPLANE) {
      await rm(this.info.dir, { recursive: true, force: true });
    }
  }
}

async function stopProcess(child?: ChildProcess): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // The guard stops its server (TERM, then KILL after 10 s). Killing only the guard would orphan
  // the server, so the last resort after 30 s is a KILL of the guard's whole process group.
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch { /* already gone */ }
  }, 30_000);
  await exited;
  clearTimeout(timer);
}
