/**
 * Benchmark 7, binary: the size of the compiled executable (Bun: the benchmarks' build command and
 * the Dockerfile's), the gzip size (what a registry layer of it would roughly weigh), its dynamic
 * linkage, the size of the bundled application code alone, whether `deno compile` can run here
 * (it downloads denort), and the operator image's size, uncompressed and compressed, as built by
 * `deno task image` (bench/lib/image.ts).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { repoRoot } from "../tests/e2e/manifests.ts";
import type { BenchContext } from "./lib/context.ts";
import { measureImage } from "./lib/image.ts";
import { machineInfo } from "./lib/machine.ts";
import process from "node:process";
import { BUN, BUN_BINARY, BUN_BUILD, ensureBunBinary } from "./lib/operator.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, mib } from "./lib/stats.ts";

const run = promisify(execFile);
const TMP = "bench/results/tmp";

async function attempt(
  cmd: string[],
  timeoutMs: number,
): Promise<{ ok: boolean; seconds: number; output: string }> {
  const t0 = performance.now();
  try {
    const r = await run(cmd[0], cmd.slice(1), { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 1 << 24 });
    return { ok: true, seconds: (performance.now() - t0) / 1000, output: (r.stdout + r.stderr).trim() };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string; killed?: boolean };
    const output = `${e.killed ? `timed out after ${timeoutMs / 1000} s; ` : ""}${
      e.stderr || e.stdout || e.message
    }`;
    return { ok: false, seconds: (performance.now() - t0) / 1000, output: output.trim() };
  }
}

const size = (path: string) => statSync(join(repoRoot, path)).size;
// Terminal colour codes out (deno prints them even to a pipe).
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const oneLine = (s: string) => s.replace(ANSI, "").split("\n").filter(Boolean).slice(-3).join(" / ");

/** Runs the binary benchmark and writes bench/results/binary.md. */
export async function binary(ctx: BenchContext): Promise<void> {
  const machine = await machineInfo();
  mkdirSync(join(repoRoot, TMP), { recursive: true });
  const bun = await ensureBunBinary();
  const gz = gzipSync(readFileSync(BUN_BINARY), { level: 6 }).length;
  const dockerCmd = [
    ...BUN,
    "build",
    "--compile",
    "--minify",
    "--sourcemap",
    "--bytecode",
    "--format=esm",
    "--splitting",
    "--compile-jit-policy=100",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    "--outfile",
    `${TMP}/dataflow-operator-docker`,
    "mod.ts",
  ];
  const docker = await attempt(dockerCmd, 300_000);
  const bundleCmd = [...BUN, "build", "--minify", "--target=bun", "--outfile", `${TMP}/bundle.js`, "mod.ts"];
  const bundle = await attempt(bundleCmd, 120_000);
  const denoCmd = [
    process.execPath,
    "compile",
    "--allow-all",
    "--output",
    `${TMP}/dataflow-operator-deno`,
    "mod.ts",
  ];
  const deno = await attempt(denoCmd, 120_000);
  const ldd = await attempt(["ldd", BUN_BINARY], 10_000);
  const version = await attempt([BUN_BINARY, "version"], 10_000);
  const image = await measureImage();
  const imageRow = image.ok
    ? `${image.bytes} B = ${mib(image.bytes!)} MiB uncompressed; ${image.gzipBytes} B = ${
      mib(image.gzipBytes!)
    } MiB compressed (gzip -6 of \`podman save\`)`
    : `**not built**: ${oneLine(image.error ?? "")}`;
  const body = [
    `| Artifact | Command | Size |`,
    `|---|---|---|`,
    `| Bun executable (used by the benchmarks) | \`${BUN_BUILD.join(" ")}\` (${
      fmt(bun.seconds)
    } s) | ${bun.bytes} B = ${mib(bun.bytes)} MiB |`,
    `| the same, gzip -6 | node:zlib gzipSync level 6 | ${gz} B = ${mib(gz)} MiB |`,
    `| Bun executable as the Dockerfile builds it | \`${dockerCmd.join(" ")}\` (${fmt(docker.seconds)} s) | ${
      docker.ok
        ? `${size(`${TMP}/dataflow-operator-docker`)} B = ${mib(size(`${TMP}/dataflow-operator-docker`))} MiB`
        : `failed: ${oneLine(docker.output)}`
    } |`,
    `| Application code alone (bundle, no runtime) | \`${bundleCmd.join(" ")}\` | ${
      bundle.ok
        ? `${size(`${TMP}/bundle.js`)} B = ${mib(size(`${TMP}/bundle.js`))} MiB`
        : `failed: ${oneLine(bundle.output)}`
    } |`,
    `| Deno executable | \`${denoCmd.join(" ")}\` | ${
      deno.ok
        ? `${size(`${TMP}/dataflow-operator-deno`)} B = ${mib(size(`${TMP}/dataflow-operator-deno`))} MiB`
        : `**not built**: ${oneLine(deno.output)}`
    } |`,
    `| Operator image ${image.image ?? ""} | \`deno task image\` (${
      image.ok ? `${fmt(image.buildSeconds!)} s, built or found current` : "failed"
    }); size: \`podman image inspect --format {{.Size}}\` | ${imageRow} |`,
    "",
    `- \`${BUN_BINARY.replace(repoRoot + "/", "")} version\`: ${oneLine(version.output)}; linkage (ldd): ${
      ldd.output.split("\n").map((l) => l.trim().split(" ")[0]).join(", ")
    }.`,
    image.ok
      ? `- Container image: the runtime base ${image.base} is ${image.baseBytes} B = ${
        mib(image.baseBytes!)
      } MiB uncompressed; the layer the Dockerfile adds is the executable (${
        docker.ok ? mib(size(`${TMP}/dataflow-operator-docker`)) : mib(bun.bytes)
      } MiB). Compressed = every byte of \`podman save --format docker-archive\` (config, manifest, layer tars) through gzip -6, about what a registry stores.`
      : `- Container image: not measured (${oneLine(image.error ?? "")}).`,
    `- The runtime dominates: the application bundle is a small fraction of the executable.`,
  ];
  writeResults({
    summary: [
      {
        figure: "7. Binary: Bun executable (gzip); Deno executable",
        target: "none",
        value: `${mib(bun.bytes)} MiB (${mib(gz)} MiB); Deno ${
          deno.ok
            ? `${mib(size(`${TMP}/dataflow-operator-deno`))} MiB`
            : "not built (denort download impossible here)"
        }`,
        met: null,
      },
      {
        figure: "7. Image (`deno task image`): uncompressed (compressed: gzip -6 of `podman save`)",
        target: "none",
        value: image.ok
          ? `${mib(image.bytes!)} MiB (${mib(image.gzipBytes!)} MiB) on ${image.base} (${
            mib(image.baseBytes!)
          } MiB)`
          : `not built: ${oneLine(image.error ?? "")}`,
        met: null,
      },
    ],
    name: "binary",
    title: "Benchmark 7: binary size",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { bun, gzip: gz, docker, bundle, deno, ldd: ldd.output, image },
  });
}
