/**
 * podman for the image tests, with the flags this kind of machine needs (deploy/image/podman-flags.sh,
 * the same the image build uses): building the operator image through `deno task image`'s script,
 * and one container's life (start, logs, stop, exit code, removal — also when this process dies).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { repoRoot } from "../e2e/manifests.ts";

const IMAGE_DIR = join(repoRoot, "deploy", "image");

/** The outcome of a finished command. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; `stderrTo` streams its stderr (build progress) instead of keeping it. */
export function exec(cmd: string, args: string[], options: { stderrTo?: NodeJS.WritableStream } = {}) {
  return new Promise<Result>((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (d) => stdout += d);
    child.stderr!.on("data", (d) => options.stderrTo ? options.stderrTo.write(d) : stderr += d);
    child.on(
      "error",
      (e) => resolve({ code: -1, stdout, stderr: `${stderr}cannot run ${cmd}: ${e.message}` }),
    );
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let flags: Promise<{ global: string[]; limits: string[] }> | undefined;

/** The podman flags of deploy/image/podman-flags.sh: before the subcommand, and the --ulimit ones. */
export function podmanFlags(): Promise<{ global: string[]; limits: string[] }> {
  flags ??= (async () => {
    const lines = async (kind: string) => {
      const r = await exec("bash", [join(IMAGE_DIR, "podman-flags.sh"), kind]);
      if (r.code !== 0) throw new Error(`podman-flags.sh ${kind} failed: ${r.stderr}`);
      return r.stdout.split("\n").filter(Boolean);
    };
    return { global: await lines("global"), limits: await lines("limits") };
  })();
  return flags;
}

/** podman with this machine's global flags; never throws on a non-zero exit. */
export async function podman(args: string[]): Promise<Result> {
  return await exec("podman", [...(await podmanFlags()).global, ...args]);
}

/** podman that must succeed; returns its stdout, trimmed. */
export async function podmanOk(args: string[]): Promise<string> {
  const r = await podman(args);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The label of the recipe (the inputs an image was built from) that deploy/image/build.sh sets. */
export const RECIPE_LABEL = "io.dataflow.image.recipe-sha256";

/**
 * Builds the operator image as `deno task image` does (or reuses it when nothing changed) and
 * returns its reference. Fails, never skips, when podman or the build is unavailable, and when the
 * image's recipe is not that of the current sources (a stale image is never tested).
 */
export async function buildImage(): Promise<string> {
  // The README's `deno task image`, as typed (under Deno, the running deno; the task runs build.sh).
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno?.execPath();
  const build = deno
    ? await exec(deno, ["task", "image"], { stderrTo: process.stderr })
    : await exec("bash", [join(IMAGE_DIR, "build.sh")], { stderrTo: process.stderr });
  if (build.code !== 0) {
    throw new Error(`deploy/image/build.sh failed (exit ${build.code}); its output is above`);
  }
  const image = build.stdout.trim().split("\n").pop() ?? "";
  const recipe = await exec("bash", [join(IMAGE_DIR, "build.sh"), "--recipe"]);
  const want = recipe.stdout.trim().split("\n").pop();
  const got = await podmanOk(["image", "inspect", "--format", `{{index .Labels "${RECIPE_LABEL}"}}`, image]);
  if (recipe.code !== 0 || !want || got !== want) {
    throw new Error(
      `${image} has recipe ${got}, the current sources ${want ?? recipe.stderr}: did a source change ` +
        "during the build? Run again.",
    );
  }
  return image;
}

/** A detached container, removed by {@link remove} or, should this process die first, by a guard. */
export class Container {
  readonly name: string;
  #guard?: ReturnType<typeof spawn>;

  private constructor(name: string) {
    this.name = name;
  }

  /**
   * Takes charge of a container started elsewhere (the README's `podman run` line): from now on it
   * is removed by {@link remove} or, should this process die first, by a guard.
   */
  static adopt(name: string, global: string[]): Container {
    const c = new Container(name);
    // A crashed test run must not leave the container holding the host's ports 9090 and 9091.
    c.#guard = spawn(
      "bash",
      [
        "-c",
        `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; podman ${
          global.join(" ")
        } rm -f -t 0 ${name}`,
      ],
      { stdio: "ignore", detached: true },
    );
    c.#guard.unref();
    return c;
  }

  /** `podman inspect` of one field, e.g. "{{.State.Status}}". */
  async inspect(format: string): Promise<string> {
    return await podmanOk(["inspect", "--format", format, this.name]);
  }

  /** True while the container runs. */
  async running(): Promise<boolean> {
    return (await podman(["inspect", "--format", "{{.State.Running}}", this.name])).stdout.trim() === "true";
  }

  /** The container's output (the operator's log lines), the last `tail` lines. */
  async logs(tail = 60): Promise<string> {
    const r = await podman(["logs", "--tail", String(tail), this.name]);
    return (r.stdout + r.stderr).trim();
  }

  /** `podman stop` (SIGTERM, SIGKILL after `seconds`); returns the container's exit code. */
  async stop(seconds = 30): Promise<number> {
    await podmanOk(["stop", "-t", String(seconds), this.name]);
    return Number(await this.inspect("{{.State.ExitCode}}"));
  }

  /** Removes the container (running or not) and ends the guard. */
  async remove(): Promise<void> {
    await podman(["rm", "-f", "-t", "0", this.name]);
    try {
      if (this.#guard?.pid) process.kill(-this.#guard.pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}
