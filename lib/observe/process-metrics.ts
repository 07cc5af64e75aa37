/**
 * The standard process metrics of the Prometheus client libraries (client_golang's process
 * collector, prom-client's defaults), computed at scrape time by a {@link Registry} collector:
 *
 * | metric                            | type    | source                                         |
 * | --------------------------------- | ------- | ---------------------------------------------- |
 * | `process_cpu_seconds_total`       | counter | `process.cpuUsage()`, user + system            |
 * | `process_resident_memory_bytes`   | gauge   | `process.memoryUsage().rss`                    |
 * | `process_virtual_memory_bytes`    | gauge   | `/proc/self/stat` (vsize; Linux only)          |
 * | `process_start_time_seconds`      | gauge   | the wall clock minus `process.uptime()`        |
 * | `process_open_fds`                | gauge   | entries of `/proc/self/fd` (Linux only)        |
 * | `process_max_fds`                 | gauge   | `Max open files` of `/proc/self/limits` (soft) |
 * | `nodejs_heap_size_total_bytes`    | gauge   | `process.memoryUsage().heapTotal`              |
 * | `nodejs_heap_size_used_bytes`     | gauge   | `process.memoryUsage().heapUsed`               |
 * | `nodejs_external_memory_bytes`    | gauge   | `process.memoryUsage().external`               |
 *
 * The heap gauges keep prom-client's names (what dashboards for JavaScript runtimes query); on
 * Deno they are V8's heap, on Bun JavaScriptCore's. A metric whose source cannot be read on this
 * platform (no /proc, or on Deno no read permission for it) is not registered at all; one whose
 * read fails at a scrape has no sample in that scrape. Nothing here ever throws into a scrape.
 * Works on Deno, Bun and Node (node:process, node:fs only).
 */
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import type { Counter, Gauge, Registry } from "./metrics.ts";
import { defaultRegistry } from "./metrics.ts";

/** Where the Linux metrics are read from (tests point it at a fake /proc/self). */
export interface ProcessMetricsOptions {
  /** The `/proc/self` directory (default `/proc/self`). */
  procSelf?: string;
}

/** Reads `/proc/self/limits`' soft `Max open files`; undefined when unlimited or unreadable. */
export function parseMaxFds(limits: string): number | undefined {
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  if (!soft || soft === "unlimited") return undefined;
  const n = Number(soft);
  return Number.isFinite(n) ? n : undefined;
}

/** The virtual memory size (bytes, field 23 `vsize`) from `/proc/self/stat`; undefined if malformed. */
export function parseVsize(stat: string): number | undefined {
  // The command name (field 2) is in parentheses and may contain spaces or parentheses itself:
  // the fields after it start after the last ")". Field 3 (state) is index 0 there, vsize index 20.
  const rest = stat.slice(stat.lastIndexOf(")") + 1).trim().split(/\s+/);
  const n = Number(rest[20]);
  return rest.length > 20 && Number.isFinite(n) ? n : undefined;
}

/** True when this Deno process may read `path` without asking (always true off Deno). */
function mayRead(path: string): boolean {
  const deno = (globalThis as {
    Deno?: { permissions?: { querySync?(d: { name: "read"; path: string }): { state: string } } };
  }).Deno;
  const query = deno?.permissions?.querySync;
  if (!query) return true;
  try {
    // Never prompt: a scrape must not wait for a terminal answer.
    return query.call(deno!.permissions, { name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

/** Runs `read`; undefined when it throws or gives no finite number. */
function attempt(read: () => number | undefined): number | undefined {
  try {
    const v = read();
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const registered = new WeakMap<Registry, () => void>();

/**
 * Registers the process metrics on `registry` (default: the process registry that `/metrics`
 * serves) and a collector that refreshes them on every render. Idempotent per registry: a second
 * call returns the first call's unregister function. Unregistering stops the refresh; the
 * families stay registered with their last values.
 */
export function registerProcessMetrics(
  registry: Registry = defaultRegistry,
  options: ProcessMetricsOptions = {},
): () => void {
  const existing = registered.get(registry);
  if (existing) return existing;
  const self = options.procSelf ?? "/proc/self";
  const proc = mayRead(self);
  const cpuSeconds = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const memory = () => process.memoryUsage();
  const readers = {
    vsize: () => parseVsize(readFileSync(`${self}/stat`, "utf8")),
    // The directory handle of the listing itself is counted, as client_golang counts it.
    openFds: () => readdirSync(`${self}/fd`).length,
    maxFds: () => parseMaxFds(readFileSync(`${self}/limits`, "utf8")),
  };
  const available = {
    cpu: attempt(cpuSeconds) !== undefined,
    memory: attempt(() => memory().rss) !== undefined,
    vsize: proc && attempt(readers.vsize) !== undefined,
    openFds: proc && attempt(readers.openFds) !== undefined,
    maxFds: proc && attempt(readers.maxFds) !== undefined,
  };

  const gauges: Array<[Gauge, () => number | undefined]> = [];
  const gauge = (name: string, help: string, read: () => number | undefined) =>
    gauges.push([registry.gauge(name, help), read]);
  let cpu: Counter | undefined;
  if (available.cpu) {
    cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  }
  let mem: ReturnType<typeof memory> | undefined;
  if (available.memory) {
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => mem?.rss);
  }
  if (available.vsize) gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", readers.vsize);
  const start = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000;
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => start);
  if (available.openFds) gauge("process_open_fds", "Number of open file descriptors.", readers.openFds);
  if (available.maxFds) gauge("process_max_fds", "Maximum number of open file descriptors.", readers.maxFds);
  if (available.memory) {
    const engine = "the JavaScript engine's heap: V8 on Deno and Node, JavaScriptCore on Bun";
    gauge("nodejs_heap_size_total_bytes", `Process heap size in bytes (${engine}).`, () => mem?.heapTotal);
    gauge("nodejs_heap_size_used_bytes", `Process heap size used in bytes (${engine}).`, () => mem?.heapUsed);
    gauge(
      "nodejs_external_memory_bytes",
      "Memory of objects outside the JavaScript heap bound to JavaScript objects, in bytes.",
      () => mem?.external,
    );
  }

  const collect = () => {
    mem = available.memory ? attemptObject(memory) : undefined;
    if (cpu) {
      const total = attempt(cpuSeconds);
      // A counter only grows: add what was used since the last scrape.
      if (total !== undefined && total > cpu.get()) cpu.inc({}, total - cpu.get());
    }
    for (const [g, read] of gauges) {
      const v = attempt(read);
      if (v === undefined) g.remove({});
      else g.set({}, v);
    }
  };
  collect();
  const unregister = registry.addCollector(collect);
  const done = () => {
    unregister();
    registered.delete(registry);
  };
  registered.set(registry, done);
  return done;
}

function attemptObject<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
