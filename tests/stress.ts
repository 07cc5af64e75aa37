/**
 * The whole suite several times in a row while a CPU-heavy process runs beside it, as on a shared
 * CI machine: `deno task stress` (5 runs beside one busy-looping process; about 25 minutes a run on
 * 2 cores). Every argument not listed below goes to tests/run.ts unchanged, so
 * `deno task stress --runs=2 --no-static --no-bun --only tests/unit/time` stresses a part.
 * Flags: --runs=N (default 5), --burners=N (default 1), --keep-going (run all N even
 * after a failure). Exit 0 when every run passed; the closing lines list each run's result.
 */
import { spawn } from "node:child_process";
import process from "node:process";

const own = new Map<string, string>();
const passOn: string[] = [];
for (const arg of process.argv.slice(2)) {
  const m = /^--(runs|burners|keep-going)(?:=(.*))?$/.exec(arg);
  if (m) own.set(m[1], m[2] ?? "true");
  else passOn.push(arg);
}
const runs = Number(own.get("runs") ?? 5);
const burners = Number(own.get("burners") ?? 1);
if (!(runs >= 1) || !(burners >= 0)) {
  console.error("usage: deno task stress [--runs=N] [--burners=N] [--keep-going] [tests/run.ts flags]");
  process.exit(2);
}

const deno = process.execPath;
const root = new URL("..", import.meta.url).pathname;

// A busy loop per burner: a separate process, so it competes for the cores like another CI job.
const burning = Array.from(
  { length: burners },
  () => spawn(deno, ["eval", "for (;;) {}"], { stdio: "ignore" }),
);
const stopBurning = () => burning.forEach((b) => b.kill("SIGKILL"));
process.on("exit", stopBurning);
console.log(`stress: ${runs} run(s) of tests/run.ts ${passOn.join(" ")} beside ${burners} busy process(es)`);

const results: string[] = [];
let failed = 0;
for (let i = 1; i <= runs; i++) {
  const started = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(deno, ["run", "--allow-all", "tests/run.ts", ...passOn], {
      cwd: root,
      stdio: "inherit",
    });
    child.on("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  const line = `run ${i}/${runs}: ${code === 0 ? "passed" : `FAILED (exit ${code})`} in ${
    Math.round((Date.now() - started) / 1000)
  } s`;
  results.push(line);
  console.log(`\nstress: ${line}`);
  if (code !== 0) {
    failed++;
    if (own.get("keep-going") !== "true") break;
  }
}
stopBurning();
console.log(`\nstress summary:\n${results.join("\n")}`);
process.exit(failed ? 1 : 0);
