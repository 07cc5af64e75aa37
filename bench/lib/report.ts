/**
 * Results files: bench/results/<name>.md (the figures, linked from bench/README.md) and
 * <name>.json (the raw samples). Small runs go to bench/results/tmp/ (git-ignored), so a debugging
 * run never replaces a real one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAverage, type MachineInfo } from "./machine.ts";

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** One benchmark's results. */
export interface Results {
  /** File name (without extension) and benchmark name. */
  name: string;
  title: string;
  /** The exact command that produced them. */
  command: string;
  machine: MachineInfo;
  small: boolean;
  /** Markdown lines after the header. */
  body: string[];
  /** Raw samples and settings. */
  data: unknown;
}

/** Writes the results files and prints the markdown; returns the markdown path. */
export function writeResults(r: Results): string {
  const dir = r.small ? join(resultsDir, "tmp") : resultsDir;
  mkdirSync(dir, { recursive: true });
  const m = r.machine;
  const header = [
    `# ${r.title}`,
    "",
    `- Command: \`${r.command}\`${r.small ? " (**small run**: reduced sizes, not the issue's figures)" : ""}`,
    `- Date: ${m.date} (finished ${new Date().toISOString()})`,
    `- Machine: ${m.nproc} CPUs (nproc), ${m.memoryGiB} GiB memory, ${m.platform}; shared with other work`,
    `- Load average (1/5/15 min): ${m.load.join(" / ")} at the start, ${
      loadAverage().join(" / ")
    } at the end`,
    `- Runtimes: ${m.deno}; ${m.bun}`,
    `- API server: ${m.apiserver}`,
    "",
  ];
  const text = [...header, ...r.body, ""].join("\n");
  const md = join(dir, `${r.name}.md`);
  writeFileSync(md, text);
  writeFileSync(join(dir, `${r.name}.json`), JSON.stringify({ ...r, body: undefined }, null, 2) + "\n");
  console.log("\n" + text);
  return md;
}
