/**
 * The facts every results file records: date, machine (nproc, memory, load average), runtime
 * versions and the API server's version.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import process from "node:process";
import type { KubeClient } from "../../lib/kube/client.ts";
import { BUN } from "./operator.ts";

/** The machine and runtime facts of a run. */
export interface MachineInfo {
  date: string;
  nproc: number;
  memoryGiB: number;
  platform: string;
  /** Load averages (1, 5, 15 min) when the facts were taken. */
  load: number[];
  deno: string;
  bun: string;
  apiserver: string;
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim().split("\n")[0];
  } catch (err) {
    return `unavailable (${(err as Error).message.split("\n")[0]})`;
  }
}

/** The current load averages, rounded to two decimals. */
export function loadAverage(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/** Collects the facts (the API server's version from `/version` when a client is given). */
export async function machineInfo(admin?: KubeClient): Promise<MachineInfo> {
  const deno = (globalThis as { Deno?: { version: { deno: string; v8: string } } }).Deno;
  let apiserver = "not used";
  if (admin) {
    const v = await admin.getRaw<{ gitVersion: string }>("/version");
    apiserver = `kube-apiserver ${v.gitVersion} + etcd (private control plane, tests/controlplane)`;
  }
  return {
    date: new Date().toISOString(),
    nproc: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    platform: `${process.platform}/${process.arch}`,
    load: loadAverage(),
    deno: deno ? `Deno ${deno.version.deno} (V8 ${deno.version.v8})` : versionOf("deno", ["--version"]),
    bun: `Bun ${versionOf(BUN[0], [...BUN.slice(1), "--version"])}`,
    apiserver,
  };
}
