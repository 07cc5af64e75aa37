/**
 * Timing probes on a running operator: its /readyz polled at a short interval, and its JSON log
 * lines (LogTape's `@timestamp` and rendered `message`) for the moment something was logged.
 */
import type { OperatorProcess } from "../../tests/e2e/operator-process.ts";

/** Polls GET <health>/readyz every `intervalMs` until 200; resolves with Date.now() of the first 200. */
export async function readyAt(op: OperatorProcess, intervalMs = 5, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!op.running) throw new Error(`${op.name} exited before /readyz answered 200:\n${op.tail()}`);
    const ok = await fetch(op.healthUrl + "/readyz").then(
      async (r) => (await r.body?.cancel(), r.ok),
      () => false,
    );
    if (ok) return Date.now();
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${op.name}: /readyz not 200 within ${timeoutMs} ms:\n${op.tail()}`);
}

/** One parsed JSON log line. */
export interface LogLine {
  at: number;
  message: string;
  raw: Record<string, unknown>;
}

/** The operator's output lines that are JSON log records, parsed. */
export function logLines(op: OperatorProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of op.lines) {
    if (!line.startsWith("{")) continue;
    try {
      const raw = JSON.parse(line) as Record<string, unknown>;
      out.push({ at: Date.parse(String(raw["@timestamp"])), message: String(raw.message ?? ""), raw });
    } catch {
      // not a log record
    }
  }
  return out;
}

/** Waits until `count` log lines match `pattern`; resolves with the timestamp of the count-th. */
export async function loggedAt(
  op: OperatorProcess,
  pattern: RegExp,
  count = 1,
  timeoutMs = 300_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const matching = logLines(op).filter((l) => pattern.test(l.message));
    if (matching.length >= count) return matching[count - 1].at;
    if (!op.running) throw new Error(`${op.name} exited before logging ${pattern} ${count}x:\n${op.tail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${op.name} did not log ${pattern} ${count}x within ${timeoutMs} ms`);
}
