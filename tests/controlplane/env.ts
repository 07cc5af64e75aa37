/**
 * The control plane of the current test run, shared by every integration test file.
 *
 * `tests/run.ts` starts one control plane and passes its descriptor in DATAFLOW_TEST_CONTROLPLANE;
 * a test file run on its own (`deno test tests/integration/x.test.ts`) starts a private one.
 * Either way a control plane that cannot start fails the test loudly; nothing is skipped.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { HttpTransport } from "../../lib/kube/transport.ts";
import { KubeClient, type KubeClientOptions } from "../../lib/kube/client.ts";
import { staticCredentials } from "../../lib/kube/credentials.ts";
import { ControlPlane, type ControlPlaneInfo, type Identity } from "./harness.ts";

let shared: Promise<ControlPlane> | undefined;

/** Writes the descriptor test files read; returns its path. */
export function writeDescriptor(cp: ControlPlane): string {
  const path = join(cp.info.dir, "controlplane.json");
  writeFileSync(path, JSON.stringify(cp.info));
  return path;
}

/** The run's control plane (started on first use when no run-wide one exists). */
export function testControlPlane(): Promise<ControlPlane> {
  shared ??= (async () => {
    const descriptor = process.env.DATAFLOW_TEST_CONTROLPLANE;
    if (descriptor) {
      const info = JSON.parse(readFileSync(descriptor, "utf8")) as ControlPlaneInfo;
      const pki = join(info.dir, "pki");
      return ControlPlane.attach(info, { certPath: join(pki, "ca.crt"), keyPath: join(pki, "ca.key") });
    }
    const cp = await ControlPlane.start();
    process.on("exit", () => rmSync(cp.info.dir, { recursive: true, force: true }));
    return cp;
  })();
  return shared;
}

/** A KubeClient for an identity of the control plane (admin by default). */
export function clientFor(
  cp: ControlPlane,
  identity?: Identity,
  options: KubeClientOptions = {},
): KubeClient {
  const id = identity ?? cp.info.admin;
  const transport = new HttpTransport({
    server: cp.info.server,
    tls: { ca: cp.info.ca },
    credentials: staticCredentials({ cert: id.cert, key: id.key, token: id.token }),
  });
  return new KubeClient(transport, options);
}

/** Creates a namespace with a unique name and returns it. */
export async function freshNamespace(cp: ControlPlane, prefix = "t"): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  await cp.kubectlOk(["create", "namespace", name]);
  return name;
}
