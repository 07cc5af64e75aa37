/**
 * Helpers for the packaging tests: build/locate Helm, render the chart, parse multi-document YAML,
 * and validate manifests against the real API server with a server-side dry run.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { ControlPlane } from "../controlplane/harness.ts";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const repoRoot: string = join(here, "..", "..");
/** The chart directory. */
export const chartDir: string = join(repoRoot, "deploy", "helm", "dataflow-operator");

/** A Kubernetes object as parsed from YAML (loosely typed on purpose: tests walk into it). */
// deno-lint-ignore no-explicit-any
export type Manifest = any;

/**
 * Runs a command; resolves with its exit code and output, never rejects on a non-zero exit. `env`
 * is added to ours; a variable set to undefined is removed.
 */
export function runCommand(
  cmd: string,
  args: string[],
  options: { input?: string; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Removed explicitly: runtimes differ in how they pass an undefined value on.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env, cwd: options.cwd });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (d) => stdout += d);
    child.stderr!.on("data", (d) => stderr += d);
    child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    // "close": all output has been read by then.
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin!.end(options.input ?? "");
  });
}

let helm: Promise<string> | undefined;

/**
 * The helm binary: $HELM_BIN when set, else built from the Go module proxy by build-helm.sh into
 * the cache (a no-op after the first build). Throws with the build's output when it fails.
 */
export function helmBinary(): Promise<string> {
  helm ??= (async () => {
    if (process.env.HELM_BIN) return process.env.HELM_BIN;
    const r = await runCommand("bash", [join(here, "build-helm.sh")]);
    const bin = r.stdout.trim().split("\n").pop() ?? "";
    if (r.code !== 0 || !bin) throw new Error(`building helm failed (exit ${r.code}):\n${r.stderr}`);
    return bin;
  })();
  return helm;
}

/** Parses multi-document YAML into objects, dropping empty documents; throws on a YAML error. */
export function parseManifests(text: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`invalid YAML: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Reads and parses a YAML file of the repository. */
export async function readManifests(relativePath: string): Promise<Manifest[]> {
  return parseManifests(await readFile(join(repoRoot, relativePath), "utf8"));
}

/**
 * Renders the chart with `helm template` for the control plane's Kubernetes version; `set` values
 * are passed as --set-json so types survive (numbers, booleans, objects). Returns the raw result.
 */
export async function helmTemplate(
  release: string,
  namespace: string,
  set: Record<string, unknown> = {},
  kubeVersion = "v1.36.3",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion];
  for (const [key, value] of Object.entries(set)) args.push("--set-json", `${key}=${JSON.stringify(value)}`);
  return await runCommand(await helmBinary(), args);
}

/** Renders the chart and parses it; throws with Helm's stderr when rendering fails. */
export async function renderChart(
  release: string,
  namespace: string,
  set: Record<string, unknown> = {},
): Promise<Manifest[]> {
  const r = await helmTemplate(release, namespace, set);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return parseManifests(r.stdout);
}

/** Prints objects back as one multi-document JSON stream kubectl accepts. */
export function toKubectlInput(objects: Manifest[]): string {
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: objects });
}

/**
 * Validates objects with `kubectl apply --dry-run=server` as admin: the API server runs its full
 * validation and admission chain (schemas, CEL rules, Pod Security) without persisting anything.
 * Returns kubectl's result so a test can assert acceptance or read a rejection.
 */
export async function dryRunServer(
  cp: ControlPlane,
  objects: Manifest[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await cp.kubectl(["apply", "--dry-run=server", "-o", "name", "-f", "-"], {
    input: toKubectlInput(objects),
  });
}

/** The one object of a kind (and optionally name) among objects; throws when absent or ambiguous. */
export function pick(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  }
  return found[0];
}
