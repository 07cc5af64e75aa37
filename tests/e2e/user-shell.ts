/**
 * A user's shell for the tests that type documented commands exactly as written: bash from the
 * repository root with kubectl (the control plane's), helm and a `dataflow-operator` command (the
 * operator under test: `deno run -A mod.ts`, or the Bun binary) on PATH, and the control plane's
 * admin kubeconfig in KUBECONFIG.
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import process from "node:process";
import type { ControlPlane } from "../controlplane/harness.ts";
import { helmBinary, repoRoot, runCommand } from "./manifests.ts";
import { operatorCommand } from "./operator-process.ts";

/** A PATH with kubectl, helm and a `dataflow-operator` wrapper (written into `dir`, which must exist). */
export async function userPath(cp: ControlPlane, dir: string): Promise<string> {
  const [cmd, ...args] = operatorCommand();
  const absolute = args.map((a) => a.endsWith(".ts") && !isAbsolute(a) ? join(repoRoot, a) : a);
  const wrapper = join(dir, "dataflow-operator");
  writeFileSync(wrapper, `#!/bin/sh\nexec ${[cmd, ...absolute].map((a) => `'${a}'`).join(" ")} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return [dir, cp.info.binDir, dirname(await helmBinary()), process.env.PATH].join(":");
}

/** Runs one command line as typed; throws with its output when it fails. */
export async function typeCommand(cp: ControlPlane, line: string, path: string): Promise<void> {
  const r = await runCommand("bash", ["-euo", "pipefail", "-c", line], {
    cwd: repoRoot,
    env: { PATH: path, KUBECONFIG: cp.info.admin.kubeconfigPath },
  });
  assert.equal(r.code, 0, `\`${line}\` exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}
