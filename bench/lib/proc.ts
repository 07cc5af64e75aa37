/**
 * Linux process facts from /proc: finding the operator's own process (not its guard shell) by a
 * unique command-line argument, and its resident memory (VmRSS, VmHWM, and VmRSS's anonymous and
 * file-backed parts).
 */
import { readdirSync, readFileSync } from "node:fs";

/** Resident memory of a process in bytes. */
export interface Memory {
  /** Current resident set size (VmRSS). */
  rss: number;
  /** Peak resident set size since the process started (VmHWM). */
  hwm: number;
  /** The anonymous part of VmRSS (RssAnon): heaps, stacks, JIT code. */
  anon: number;
  /** The file-backed part of VmRSS (RssFile): the executable's and libraries' pages in use. */
  file: number;
}

/**
 * The pid of the process whose command line contains `needle` (as one argument) and which is not a
 * shell: the operator itself, not the guard `bash` that OperatorProcess runs it under.
 */
export function findPid(needle: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!args.includes(needle)) continue;
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (comm === "bash" || comm === "sh") continue;
      return Number(entry);
    } catch {
      // The process ended while we looked: not ours.
    }
  }
  return undefined;
}

/** Waits until {@link findPid} finds the process (the guard spawns it a moment after us). */
export async function waitForPid(needle: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pid = findPid(needle);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no process with argument ${needle} within ${timeoutMs} ms`);
}

/** VmRSS, VmHWM, RssAnon and RssFile of `pid` from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => {
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux x86-64). */
const USER_HZ = 100;

/** CPU time (user + system) `pid` has used so far, in seconds. */
export function cpuSeconds(pid: number, statPath = `/proc/${pid}/stat`): number {
  const stat = readFileSync(statPath, "utf8");
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * CPU time (user + system, seconds) of each thread of `pid`, summed by thread name (comm): on Bun
 * e.g. the main JavaScript thread (named like the executable), "HTTP Client", JavaScriptCore's
 * collector threads ("HeapHelper", and "ollector Thread": Linux keeps the last 15 characters of
 * its "... Collector Thread"), so CPU off the main thread (mostly garbage collection) can be told
 * apart.
 */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const key = tid === String(pid) ? `${name} (main thread)` : name;
      out[key] = (out[key] ?? 0) + cpuSeconds(Number(tid), `/proc/${pid}/task/${tid}/stat`);
    } catch {
      // The thread ended while we looked.
    }
  }
  return out;
}
