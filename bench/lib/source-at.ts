/**
 * The sources of an earlier commit, for benchmarks that compare a module with its former self in
 * one process: `lib/` of that commit extracted with `git archive` under dist/ (git-ignored), once
 * per commit. Its modules import one another relatively, so they load as they were.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../tests/e2e/manifests.ts";

/** The directory holding `lib/` as of git commit `ref`. */
export function sourceAt(ref: string): string {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: repoRoot, encoding: "utf8" })
    .trim();
  const dir = join(repoRoot, "dist", `src-${commit}`);
  if (existsSync(dir)) return dir;
  // Extracted beside and renamed into place, so an interrupted run leaves no half-filled directory.
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tar = execFileSync("git", ["archive", "--format=tar", commit, "lib"], {
    cwd: repoRoot,
    maxBuffer: 1 << 30,
  });
  execFileSync("tar", ["-x", "-C", partial], { input: tar });
  renameSync(partial, dir);
  return dir;
}
