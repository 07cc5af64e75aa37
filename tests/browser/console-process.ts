/**
 * The console as a separate process, as users start it: either `<operator command> console ...`
 * (DATAFLOW_OPERATOR_CMD, default `deno run -A mod.ts`) or a command line typed into bash exactly
 * as the README writes it. It runs in its own process group under a guard that ends it when this
 * test process goes, so a crashed test leaves no console behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { guardShell, operatorCommand } from "../e2e/operator-process.ts";
import { repoRoot } from "../e2e/manifests.ts";
import { waitFor } from "../tools/wait.ts";

const EXIT_MARK = "[console-guard] exit status";
const GUARD = guardShell(EXIT_MARK);

/** A running console process. */
export class ConsoleProcess {
  /** The URL it printed (`DataFlow console: <url> ...`). */
  url = "";
  #out = "";
  #child: ChildProcess;
  #exit: Promise<number>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on("data", (d) => this.#out += d);
    child.stderr!.on("data", (d) => this.#out += d);
    this.#exit = new Promise((resolve) =>
      child.on("close", () => {
        const line = this.#out.split("\n").findLast((l) => l.startsWith(EXIT_MARK));
        resolve(line ? Number(line.slice(EXIT_MARK.length)) : -1);
      })
    );
  }

  /** Everything it printed. */
  get output(): string {
    return this.#out;
  }

  /** `<operator command> console <args>`, with only `env` (plus PATH and HOME) as its environment. */
  static start(args: string[], env: Record<string, string> = {}): Promise<ConsoleProcess> {
    return ConsoleProcess.#spawn([...operatorCommand(), "console", ...args], env);
  }

  /** A command line typed into bash from the repository root, exactly as written. */
  static typed(line: string, env: Record<string, string> = {}): Promise<ConsoleProcess> {
    return ConsoleProcess.#spawn(["bash", "-c", line], env);
  }

  static async #spawn(argv: string[], env: Record<string, string>): Promise<ConsoleProcess> {
    const base: Record<string, string> = {};
    for (const k of ["PATH", "HOME", "XDG_CACHE_HOME", "DENO_DIR", "TMPDIR", "LANG"]) {
      if (process.env[k] !== undefined) base[k] = process.env[k]!;
    }
    const child = spawn("bash", ["-c", GUARD, "guard", ...argv], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...base, LOG_FORMAT: "text", ...env, PARENT_PID: String(process.pid) },
      detached: true,
    });
    const c = new ConsoleProcess(child);
    const exited = () => child.exitCode !== null || c.#out.includes(EXIT_MARK);
    const printed = () => /DataFlow console: (http:\/\/\S+)/.exec(c.#out)?.[1];
    try {
      const url = await waitFor("the console to print its URL", printed, {
        timeoutMs: 120_000,
        describe: () => c.#out,
        abortIf: () => exited() && !printed() ? "the console exited before printing its URL" : undefined,
      });
      c.url = url.replace(/\/$/, "");
      // /readyz: the DataFlow cache is filled, so a test sees every DataFlow at once.
      await waitFor(`the console at ${c.url} to be ready`, async () => {
        const r = await fetch(`${c.url}/readyz`);
        await r.body?.cancel();
        return r.ok;
      }, {
        timeoutMs: 120_000,
        describe: () => c.#out,
        abortIf: () => exited() ? "the console exited" : undefined,
      });
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /**
   * Ctrl-C as a terminal sends it: SIGINT to the whole process group (so `npx` and the `deno` it
   * started both get it); resolves with the console's exit code.
   */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<number> {
    if (this.#child.exitCode === null) {
      try {
        process.kill(-this.#child.pid!, signal);
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-this.#child.pid!, "SIGKILL");
      } catch { /* already gone */ }
    }, 20_000);
    try {
      return await this.#exit;
    } finally {
      clearTimeout(timer);
    }
  }
}
