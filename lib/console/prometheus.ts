/** A reader of the Prometheus text exposition format (what the operator's /metrics serves). */

/** One sample: a metric name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === "," || text[i] === " ") i++;
    if (i >= text.length) break;
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(text.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    let value = "";
    for (;;) {
      if (i >= text.length) return undefined;
      const c = text[i++];
      if (c === '"') break;
      if (c === "\\") {
        const n = text[i++];
        value += n === "n" ? "\n" : n;
      } else value += c;
    }
    labels[m[1]] = value;
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** Parses the text format; comment lines and lines it cannot read are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = m[3] ? parseLabels(m[3]) : {};
    if (!labels) continue;
    out.push({ name: m[1], labels, value: parseValue(m[4]) });
  }
  return out;
}

/** Samples of one metric, optionally narrowed by label values. */
export function select(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

/** The sum of a metric's samples (undefined when it has none). */
export function sum(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = select(samples, name, labels);
  return found.length ? found.reduce((n, s) => n + s.value, 0) : undefined;
}

/** A metric's samples summed per value of one label, e.g. reconciles per `result`. */
export function sumBy(samples: Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of select(samples, name)) {
    out[s.labels[label] ?? ""] = (out[s.labels[label] ?? ""] ?? 0) + s.value;
  }
  return out;
}
