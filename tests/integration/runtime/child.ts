/**
 * Runs tests/integration/runtime/operator-child.ts as a separate OS process with the same
 * runtime as the test (Deno, Bun or Node) and collects its JSON lines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { waitFor } from "../../tools/wait.ts";

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
  #exit?: { code: number | null; signal: string | null };
  /** Set once the child exited and its stdout was read to the end: no more events can come. */
  #done = false;

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
        this.#exit = { code, signal };
        resolve(this.#exit);
      })
    );
    this.#proc.on("close", () => (this.#done = true));
  }

  /** Events of one kind. */
  of(ev: string): ChildEvent[] {
    return this.events.filter((e) => e.ev === ev);
  }

  /**
   * Resolves with the first event `ev` at or after `after`, waiting up to `ms`; fails as soon as
   * the child has exited and printed everything without it.
   */
  waitFor(ev: string, ms = 30_000, after = 0): Promise<ChildEvent> {
    const find = () => this.events.find((x) => x.ev === ev && x.at >= after);
    return waitFor(`${this.identity}: "${ev}"`, find, {
      timeoutMs: ms,
      intervalMs: 20,
      describe: () => `events: ${JSON.stringify(this.events.slice(-8))}`,
      abortIf: () =>
        this.#done && !find() ? `${this.identity} exited (${JSON.stringify(this.#exit)})` : undefined,
    });
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
