/**
 * What an idle operator's resident memory is made of, by part: small programs compiled exactly as
 * the operator is (bench/lib/operator.ts BUN_BUILD_FLAGS) that each add one part — the Bun runtime
 * alone, an HTTP hello world (node:http and Bun.serve), the kube client connecting over TLS (from a
 * kubeconfig, and from the service-account files of a pod), the operator's module graph imported
 * without running — measured like the operator (VmRSS and its
 * anonymous and file-backed parts, 1.5 s after the program is ready); and JavaScriptCore's own
 * figures inside the running operator (bun:jsc heapStats() and memoryUsage(), object counts by
 * type), from the operator built with a probe that prints them on SIGUSR2.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../tests/e2e/manifests.ts";
import { BUN, BUN_BUILD_FLAGS } from "./operator.ts";
import { type Memory, memoryOf } from "./proc.ts";
import { sleep } from "./stats.ts";

/** Where the parts' sources and executables go (dist/ is git-ignored). */
const DIR = join(repoRoot, "dist", "startup-parts");

/** Where the parts connect: the operator's kubeconfig, and the same identity as a pod's files. */
export interface PartTarget {
  kubeconfig: string;
  /** The API server URL. */
  server: string;
  /** The CA certificate's file. */
  caPath: string;
  /** The operator's ServiceAccount token. */
  token: string;
}

/** One part: a program that prints `ready` once set up and then stays alive. */
export interface Part {
  name: string;
  /** What it adds, for the table. */
  what: string;
  /**
   * Its source. Arguments: the kubeconfig, then a directory laid out as a pod's service-account
   * mount (token, ca.crt, namespace), then the server's host and port.
   */
  source: string;
}

const STAY = `setInterval(() => {}, 1 << 30);`;
const lib = (path: string) => JSON.stringify(join(repoRoot, path));

/** The parts, each a step towards the operator. */
export const PARTS: Part[] = [
  {
    name: "runtime",
    what: "the Bun runtime alone (a program that only stays alive)",
    source: `console.log("ready");\n${STAY}\n`,
  },
  {
    name: "hello-node-http",
    what: "HTTP hello world on node:http",
    source: `import { createServer } from "node:http";
createServer((_req, res) => res.end("ok")).listen(0, "127.0.0.1", () => console.log("ready"));\n`,
  },
  {
    name: "hello-bun-serve",
    what: "HTTP hello world on Bun.serve (the operator's /healthz, /readyz and /metrics on Bun)",
    source: `Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
console.log("ready");\n`,
  },
  {
    name: "kube-client",
    what: "the kube client only: the operator's kubeconfig, one GET /version over TLS",
    source: `import process from "node:process";
import { connect } from ${lib("lib/kube/config.ts")};
const conn = await connect({ kubeconfig: process.argv[2], env: process.env });
await (await conn.client.transport.request({ method: "GET", path: "/version" })).text();
console.log("ready");
${STAY}\n`,
  },
  {
    name: "kube-client-in-cluster",
    what:
      "the kube client only, configured as in a pod (token and CA files: no kubeconfig YAML), one GET /version",
    source: `import process from "node:process";
import { inClusterConfig } from ${lib("lib/kube/incluster.ts")};
import { HttpTransport } from ${lib("lib/kube/transport.ts")};
const [, , , dir, host, port] = process.argv;
const config = await inClusterConfig({ dir, env: { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } });
await (await new HttpTransport(config).request({ method: "GET", path: "/version" })).text();
console.log("ready");
${STAY}\n`,
  },
  {
    name: "import-mod",
    what: "mod.ts imported, nothing run (the operator's static module graph)",
    source: `import * as operator from ${lib("mod.ts")};
(globalThis as { keep?: unknown }).keep = operator;
console.log("ready");
${STAY}\n`,
  },
];

/** The operator with a probe: on SIGUSR2 it prints one `HEAPSTATS <json>` line on standard error. */
const HEAP_PROBE = `import process from "node:process";
import { heapStats, memoryUsage } from "bun:jsc";
import { main } from ${lib("lib/dataflow/cli.ts")};
process.on("SIGUSR2", () => {
  const h = heapStats();
  const byType = Object.entries(h.objectTypeCounts).sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.error("HEAPSTATS " + JSON.stringify({
    heapSize: h.heapSize,
    heapCapacity: h.heapCapacity,
    extraMemorySize: h.extraMemorySize,
    objectCount: h.objectCount,
    protectedObjectCount: h.protectedObjectCount,
    byType,
    memoryUsage: memoryUsage(),
    process: process.memoryUsage(),
  }));
});
process.exitCode = await main(process.argv.slice(2));
process.exit();
`;

/** JavaScriptCore's figures inside the operator (bytes; object counts). */
export interface HeapStats {
  heapSize: number;
  heapCapacity: number;
  extraMemorySize: number;
  objectCount: number;
  protectedObjectCount: number;
  /** The most frequent object types, most first. */
  byType: [string, number][];
  /** bun:jsc memoryUsage(): current and peak resident memory as JavaScriptCore's allocator sees it. */
  memoryUsage: { current: number; peak: number; currentCommit: number; peakCommit: number };
  process: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
}

/** Compiles `source` (written to dist/startup-parts/<name>.ts) with the operator's flags; returns the executable. */
async function compile(name: string, source: string): Promise<string> {
  mkdirSync(DIR, { recursive: true });
  const entry = join(DIR, `${name}.ts`);
  const out = join(DIR, name);
  writeFileSync(entry, source);
  const [cmd, ...pre] = BUN;
  await promisify(execFile)(cmd, [...pre, ...BUN_BUILD_FLAGS, "--outfile", out, entry], { cwd: repoRoot });
  return out;
}

/** The operator compiled with the heap probe (see {@link HEAP_PROBE}). */
export function compileHeapProbe(): Promise<string> {
  return compile("operator-heap-probe", HEAP_PROBE);
}

/** Parses the probe's `HEAPSTATS` line among an operator's output lines. */
export function heapStatsIn(lines: readonly string[]): HeapStats | undefined {
  const line = lines.find((l) => l.startsWith("HEAPSTATS "));
  return line ? JSON.parse(line.slice("HEAPSTATS ".length)) as HeapStats : undefined;
}

/** Runs one part: started, `ready`, 1.5 s, memory read, killed. */
async function measureOnce(exe: string, args: string[]): Promise<Memory> {
  const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
  try {
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${exe}: not ready within 20 s: ${out}`)), 20_000);
      child.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on("data", (d) => out += d);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${exe} exited ${code}: ${out}`));
      });
    });
    await sleep(1500);
    return memoryOf(child.pid!);
  } finally {
    child.removeAllListeners("exit");
    child.kill("SIGKILL");
  }
}

/** Every part compiled and measured `runs` times, in {@link PARTS} order. */
export async function measureParts(target: PartTarget, runs: number): Promise<Record<string, Memory[]>> {
  const sa = join(DIR, "serviceaccount");
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, "token"), target.token);
  writeFileSync(join(sa, "ca.crt"), readFileSync(target.caPath));
  writeFileSync(join(sa, "namespace"), "dataflow-system");
  const { hostname, port } = new URL(target.server);
  const args = [target.kubeconfig, sa, hostname, port];
  const out: Record<string, Memory[]> = {};
  for (const part of PARTS) {
    const exe = await compile(part.name, part.source);
    out[part.name] = [];
    for (let i = 0; i < runs; i++) out[part.name].push(await measureOnce(exe, args));
  }
  return out;
}
