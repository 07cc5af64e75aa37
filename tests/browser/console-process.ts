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
    const deadline = Date.now() + 120_000;
    for (;;) {
      const m = /DataFlow console: (http:\/\/\S+)/.exec(c.#out);
      if (m) {
        c.url = m[1].replace(/\/$/, "");
        await c.#ready(deadline);
        return c;
      }
      if (child.exitCode !== null || c.#out.includes(EXIT_MARK)) {
        throw new Error(`the console exited before printing its URL:\n${c.#out}`);
      }
      if (Date.now() > deadline) {
        await c.stop();
        throw new Error(`the console did not print its URL within 120 s:\n${c.#out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for /readyz (the DataFlow cache is filled), so a test sees every DataFlow at once. */
  async #ready(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      const ok = await fetch(`${this.url}/readyz`).then((r) => (r.body?.cancel(), r.ok), () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the console at ${this.url} did not become ready:\n${this.#out}`);
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
