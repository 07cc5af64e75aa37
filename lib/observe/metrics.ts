/**
 * A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered in
 * the text exposition format (version 0.0.4). No dependency, and cheap enough for hot paths:
 * a labelled child is looked up by one string key.
 *
 * That key is the child's label text as the exposition format writes it (`a="x",b="y"`, values
 * escaped), so a scrape renders a series by concatenating strings it already has. The DataFlow
 * operator has one series per DataFlow (100,000 at the scale benchmark), where rendering every
 * series' labels anew on each scrape took 15 % of its main thread; the key costs a write about a
 * tenth of a microsecond more than a shorter one would, and is the only copy of the text kept.
 */
import { logger } from "./log.ts";

const log = logger("metrics");

/** Label values by label name. */
export type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\\n"]/;
const escapeLabel = (v: string) =>
  NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"') : v;
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * A child's key: its labels as rendered between the braces (empty without labels). Distinct label
 * values give distinct keys, since the escaping can be undone.
 */
function labelKey(names: readonly string[], labels: Labels): string {
  let key = "";
  for (let i = 0; i < names.length; i++) {
    const value = labels[names[i]] ?? "";
    key += `${i === 0 ? "" : ","}${names[i]}="${escapeLabel(String(value))}"`;
  }
  return key;
}

/** A sample's name with its labels, `name{key}` (no braces without labels), and the space before the value. */
const seriesPrefix = (name: string, key: string) => key === "" ? `${name} ` : `${name}{${key}} `;

const formatNumber = (n: number) =>
  Number.isFinite(n) ? String(n) : Number.isNaN(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf";

/** What every metric kind shares: a name, a help text, label names, and the text rendering. */
export abstract class Metric {
  /**
   * A metric's identity.
   * @param name the metric's name, e.g. `workqueue_depth`
   * @param help the HELP line's text
   * @param labelNames the names of its labels, in rendering order
   * @param type the TYPE line's kind
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: "counter" | "gauge" | "histogram",
  ) {}
  /** Appends the sample lines of this metric, without HELP and TYPE, to `lines`. */
  abstract appendSamples(lines: string[]): void;
  /** Removes every labelled child, e.g. on a test reset. */
  abstract reset(): void;
  /** Appends the metric's lines in the text exposition format to `lines`: HELP, TYPE, then the samples. */
  appendTo(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    this.appendSamples(lines);
  }
  /** The metric in the text exposition format: HELP, TYPE, then the samples. */
  render(): string {
    const lines: string[] = [];
    this.appendTo(lines);
    return lines.join("\n");
  }
}

/** One line per child of a counter or a gauge. */
function appendValues(lines: string[], name: string, values: Map<string, number>): void {
  for (const [key, value] of values) lines.push(seriesPrefix(name, key) + formatNumber(value));
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  #values = new Map<string, number>();
  /**
   * A metric with no sample yet.
   * @param name the metric's name
   * @param help its HELP text
   * @param labelNames its labels
   */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "counter");
  }
  /** Adds `value` (default 1) to the child with these labels. */
  inc(labels: Labels = {}, value = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + value);
  }
  /** The current value for these labels (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  /** Appends the sample lines, one per labelled child. */
  appendSamples(lines: string[]): void {
    appendValues(lines, this.name, this.#values);
  }
  /** Removes every labelled child. */
  reset(): void {
    this.#values.clear();
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  #values = new Map<string, number>();
  /**
   * A metric with no sample yet.
   * @param name the metric's name
   * @param help its HELP text
   * @param labelNames its labels
   */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "gauge");
  }
  /** Sets the child with these labels. */
  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(this.labelNames, labels), value);
  }
  /** Adds `value` (may be negative). */
  inc(labels: Labels = {}, value = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + value);
  }
  /** Removes the child with these labels, so the series disappears from the output. */
  remove(labels: Labels): void {
    this.#values.delete(labelKey(this.labelNames, labels));
  }
  /** The current value, or undefined when the series does not exist. */
  get(labels: Labels = {}): number | undefined {
    return this.#values.get(labelKey(this.labelNames, labels));
  }
  /** Appends the sample lines, one per labelled child. */
  appendSamples(lines: string[]): void {
    appendValues(lines, this.name, this.#values);
  }
  /** Removes every labelled child. */
  reset(): void {
    this.#values.clear();
  }
}

/** `count` buckets starting at `start`, each `factor` times the previous (Prometheus `ExponentialBuckets`). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** Default buckets (seconds) of controller-runtime's reconcile and workqueue histograms. */
export const DEFAULT_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1,
  1.25,
  1.5,
  1.75,
  2,
  2.5,
  3,
  3.5,
  4,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];

interface HistogramChild {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets. */
export class Histogram extends Metric {
  #children = new Map<string, HistogramChild>();
  /** The upper bounds of the buckets, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];
  /** Each bucket's `le` label and the end of its labels, rendered once. */
  readonly #les: readonly string[];
  /**
   * A histogram with no observation yet.
   * @param name the metric's name
   * @param help its HELP text
   * @param labelNames its labels
   * @param buckets the buckets' upper bounds (default {@link DEFAULT_BUCKETS})
   */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    super(name, help, labelNames, "histogram");
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.#les = this.buckets.map((b) => `le="${formatNumber(b)}"} `);
  }
  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const k = labelKey(this.labelNames, labels);
    let c = this.#children.get(k);
    if (!c) this.#children.set(k, c = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) c.counts[i]++;
    c.sum += value;
    c.count++;
  }
  /** Number of observations for these labels. */
  count(labels: Labels = {}): number {
    return this.#children.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }
  /** Appends the bucket, sum and count lines of every labelled child. */
  appendSamples(lines: string[]): void {
    const les = this.#les;
    for (const [key, c] of this.#children) {
      const bucket = key === "" ? `${this.name}_bucket{` : `${this.name}_bucket{${key},`;
      for (let i = 0; i < les.length; i++) lines.push(`${bucket}${les[i]}${c.counts[i]}`);
      lines.push(`${bucket}le="+Inf"} ${c.count}`);
      lines.push(seriesPrefix(`${this.name}_sum`, key) + formatNumber(c.sum));
      lines.push(seriesPrefix(`${this.name}_count`, key) + c.count);
    }
  }
  /** Removes every labelled child. */
  reset(): void {
    this.#children.clear();
  }
}

/** A set of metrics rendered together. Registering a name twice returns the first metric. */
export class Registry {
  #metrics = new Map<string, Metric>();
  #collectors = new Set<() => void>();

  /**
   * Registers a function run before every {@link Registry.render}, to refresh gauges that are
   * cheaper to compute on scrape (e.g. the age of running work). Returns the unregister function.
   */
  addCollector(fn: () => void): () => void {
    this.#collectors.add(fn);
    return () => this.#collectors.delete(fn);
  }

  /** Registers (or returns the existing) counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(name, () => new Counter(name, help, labelNames), Counter);
  }
  /** Registers (or returns the existing) gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(name, () => new Gauge(name, help, labelNames), Gauge);
  }
  /** Registers (or returns the existing) histogram. */
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: number[]): Histogram {
    return this.#add(name, () => new Histogram(name, help, labelNames, buckets), Histogram);
  }
  /** The whole registry in Prometheus text format. */
  render(): string {
    for (const c of this.#collectors) {
      try {
        c();
      } catch (err) {
        // A failing collector must not break the scrape; its metrics keep their last values.
        log.warning("a metrics collector failed: {error}", { error: (err as Error)?.message ?? String(err) });
      }
    }
    const lines: string[] = [];
    for (const m of this.#metrics.values()) m.appendTo(lines);
    return lines.join("\n") + "\n";
  }
  /** Clears every series (tests). */
  reset(): void {
    for (const m of this.#metrics.values()) m.reset();
  }

  #add<T extends Metric>(name: string, make: () => T, kind: abstract new (...a: never[]) => T): T {
    const existing = this.#metrics.get(name);
    if (existing) {
      if (!(existing instanceof kind)) {
        throw new Error(`metric ${name} is already registered as a ${existing.type}`);
      }
      return existing;
    }
    const m = make();
    this.#metrics.set(name, m);
    return m;
  }
}

/** The process-wide registry that `/metrics` serves. */
export const defaultRegistry: Registry = new Registry();
