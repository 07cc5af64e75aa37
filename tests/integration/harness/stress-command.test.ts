/**
 * The README's stress command for a part of the suite, run as written: each run passes, the
 * closing lines list every run, and the busy process it started is gone when it exits. (The
 * whole-suite `deno task stress` takes two hours; the closing note of the work that added it
 * records its result.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../../e2e/manifests.ts";

const root = join(import.meta.dirname!, "..", "..", "..");

/** The README's example command that stresses a part of the suite. */
function readmePartCommand(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const m = readme.match(/^npx -y deno@\S+ task stress --runs=\d+ .*$/m);
  if (!m) throw new Error("README.md has no `npx -y deno@... task stress --runs=N ...` line");
  return m[0];
}

/** The process ids of busy loops like the ones the stress command starts. */
async function busyLoops(): Promise<string[]> {
  const { stdout } = await runCommand("pgrep", ["-f", "eval for \\(;;\\) \\{\\}"]);
  return stdout.split("\n").filter(Boolean);
}

describe("deno task stress", { timeout: 300_000 }, () => {
  it("runs the README's part of the suite twice beside a busy process and stops that process", async () => {
    const command = readmePartCommand();
    const before = await busyLoops();
    const { code, stdout, stderr } = await runCommand("sh", ["-c", command], { cwd: root });
    const output = `${stdout}\n${stderr}`;
    assert.equal(code, 0, `${command} exited ${code}:\n${output}`);
    assert.match(stdout, /beside 1 busy process\(es\)/);
    assert.match(stdout, /stress summary:\nrun 1\/2: passed in \d+ s\nrun 2\/2: passed in \d+ s/);
    // Each run was a real test run with tests in it, not an empty pass.
    assert.equal(stdout.match(/\n[1-9]\d* passed, 0 failed/g)?.length, 2, output);
    const left = (await busyLoops()).filter((pid) => !before.includes(pid));
    assert.deepEqual(left, [], "the stress command left its busy process running");
  });

  it("refuses a run count that is not a positive number, with its usage", async () => {
    const { code, stderr } = await runCommand("sh", ["-c", "npx -y deno@2.9.6 task stress --runs=0"], {
      cwd: root,
    });
    assert.equal(code, 2);
    assert.match(stderr, /usage: deno task stress \[--runs=N\]/);
  });
});
