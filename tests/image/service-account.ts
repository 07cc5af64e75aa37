/**
 * The ServiceAccount volume a kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount:
 * `token`, `ca.crt` and `namespace`, written the kubelet's way (its AtomicWriter: the files live in
 * a timestamped directory, `..data` links to it, each name links through `..data`, and a rotation
 * swaps `..data` with one rename), so a reader sees either the old token or the new one, never a
 * half-written file. Tokens come from the TokenRequest API bound to a Secret, so deleting that
 * Secret revokes the token: what proves the operator re-reads the file after a rotation.
 */
import { chmod, mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ControlPlane, writeKubeconfig } from "../controlplane/harness.ts";

/** Where the kubelet mounts it in every container. */
export const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

const FILES = ["token", "ca.crt", "namespace"];

/** A projected ServiceAccount volume on the host, to bind-mount read-only into a container. */
export class ServiceAccountVolume {
  /** The host directory. */
  readonly dir: string;
  #ca: string;
  #namespace: string;
  #generation = 0;

  private constructor(dir: string, ca: string, namespace: string) {
    this.dir = dir;
    this.#ca = ca;
    this.#namespace = namespace;
  }

  /** Creates the volume with its first token. */
  static async create(ca: string, namespace: string, token: string): Promise<ServiceAccountVolume> {
    const dir = await mkdtemp(join(tmpdir(), "dataflow-sa-"));
    // The container runs as 65532, not as the owner of this directory.
    await chmod(dir, 0o755);
    const v = new ServiceAccountVolume(dir, ca, namespace);
    await v.rotate(token);
    for (const f of FILES) await symlink(join("..data", f), join(dir, f));
    return v;
  }

  /** Writes a new token the way the kubelet rotates it: a new directory, then one atomic rename. */
  async rotate(token: string): Promise<void> {
    const stamp = `..${new Date().toISOString().replace(/[-:.]/g, "_")}.${++this.#generation}`;
    const data = join(this.dir, stamp);
    await mkdir(data, { mode: 0o755 });
    const contents: Record<string, string> = { token, "ca.crt": this.#ca, namespace: this.#namespace };
    for (const f of FILES) await writeFile(join(data, f), contents[f], { mode: 0o644 });
    const old = await readlink(join(this.dir, "..data")).catch(() => undefined);
    await symlink(stamp, join(this.dir, "..data_tmp"));
    await rename(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    if (old) await rm(join(this.dir, old), { recursive: true, force: true });
  }

  /** Removes the host directory. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A token of ServiceAccount `namespace/name` bound to a Secret `secret` of that namespace
 * (created here): valid for `seconds` or until the Secret is deleted.
 */
export async function boundToken(
  cp: ControlPlane,
  namespace: string,
  name: string,
  secret: string,
  seconds = 3600,
): Promise<string> {
  await cp.kubectlOk(["-n", namespace, "create", "secret", "generic", secret]);
  const out = await cp.kubectlOk([
    "-n",
    namespace,
    "create",
    "token",
    name,
    "--bound-object-kind",
    "Secret",
    "--bound-object-name",
    secret,
    `--duration=${seconds}s`,
  ]);
  return out.trim();
}

/** True once the API server rejects `token` (401), e.g. after the Secret it was bound to is gone. */
export async function tokenRejected(cp: ControlPlane, token: string, scratchDir: string): Promise<boolean> {
  // A kubeconfig of the token alone (the admin one would authenticate by its client certificate).
  const kubeconfig = join(scratchDir, "probe.kubeconfig");
  await writeKubeconfig(kubeconfig, cp.info.server, cp.info.caPath, { name: "probe", token });
  const r = await cp.kubectl(["get", "--raw", "/api"], { kubeconfig });
  return r.code !== 0 && /Unauthorized/.test(r.stderr);
}
