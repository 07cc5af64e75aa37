/**
 * Runs tests/integration/runtime/operator-child.ts as a separate OS process with the same
 * runtime as the test (Deno, Bun or Node) and collects its JSON lines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";

/** One line the child printed. */
export interface ChildEvent {
  ev: string;
  at: number;
  identity: string;
  [k: string]: unknown;
}

const file = fileURLToPath(new URL("./operator-child.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));

/** The argv that runs a TypeScript file with the current runtime. */
export function runtimeArgv(script: string): string[] {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno) return [process.execPath, "run", "-A", script];
  if (g.Bun) return [process.execPath, script];
  return [process.execPath, "--experimental-strip-types", script];
}

/** A running operator child. */
export class OperatorChild {
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #proc: ChildProcess;

  constructor(readonly identity: string, env: Record<string, string>, logPath?: string) {
    const [cmd, ...args] = runtimeArgv(file);
    this.#proc = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, ...env, RT_IDENTITY: identity, RT_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = logPath ? createWriteStream(logPath, { flags: "a" }) : undefined;
    let buf = "";
    this.#proc.stdout!.on("data", (d: Uint8Array) => {
      buf += new TextDecoder().decode(d);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line));
        } catch { /* not ours */ }
      }
    });
    this.#proc.stderr!.on("data", (d: Uint8Array) => log?.write(d));
    this.exited = new Promise((resolve) =>
      this.#proc.on("exit", (code, signal) => {
        log?.end();
        resolve({ code, signal });
      })
    );
  }

  /** Events of one kind. */
  of(ev: string): ChildEvent[] {
    return this.events.filter((e) => e.ev === ev);
  }

  /** Resolves with the first event matching, waiting up to `ms`. */
  async waitFor(ev: string, ms = 30_000, after = 0): Promise<ChildEvent> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const e = this.events.find((x) => x.ev === ev && x.at >= after);
      if (e) return e;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `${this.identity}: no "${ev}" within ${ms} ms; events: ${JSON.stringify(this.events.slice(-8))}`,
    );
  }

  /** Whether the child currently leads, by its last leading/not-leading line. */
  get leading(): boolean {
    const last = this.events.filter((e) => e.ev === "leading" || e.ev === "not-leading").at(-1);
    return last?.ev === "leading";
  }

  /**
   * Sends a signal. Through `process.kill(pid)`, not `ChildProcess.kill`: after the latter,
   * Deno's node:child_process reports the exit as "killed by that signal" even when the child
   * handled it and exited 0.
   */
  kill(signal: "SIGTERM" | "SIGKILL" | "SIGINT"): void {
    if (this.#proc.pid) process.kill(this.#proc.pid, signal);
  }

  /** Kills the child if it still runs (teardown). */
  async stop(): Promise<void> {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      this.kill("SIGKILL");
      await this.exited;
    }
  }
}
