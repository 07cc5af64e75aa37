/**
 * What a PromQL expression reads, without a dependency: every series selector (metric name and
 * label matchers) and every label the expression needs on that metric's series: its matchers,
 * `by`/`without` of the aggregations around it, `on`/`ignoring`/`group_left`/`group_right` of
 * the binary operations beside it, `le` under `histogram_quantile`, and the source labels of
 * `label_replace`, `label_join` and `sort_by_label`. Grafana variables (`$job`, `${job}`,
 * `$__rate_interval`) may stand where Grafana allows them: in strings, ranges and as numbers.
 *
 * It is a reader for checks, not a full parser: operator precedence is not modelled (a label of
 * `on(...)` is attributed to every selector at the same parenthesis level), and anything it does
 * not understand — an unknown function, an unbalanced parenthesis, a matcher without a string —
 * is an error, so a check built on it fails rather than passes by accident.
 *
 * ```ts
 * selectors('sum by (le) (rate(x_bucket{job="a"}[5m]))')
 * // [{ metric: "x_bucket", matchers: [{ label: "job", op: "=", value: "a" }], labels: ["job", "le"] }]
 * ```
 */

/** One label matcher of a selector. */
export interface Matcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

/** One series selector and the labels the expression needs on its series. */
export interface Selector {
  /** The metric name (from the name before `{` or a `__name__="..."` matcher). */
  metric: string;
  /** The label matchers, without `__name__`. */
  matchers: Matcher[];
  /** Every label the expression uses on this metric's series, sorted, without `__name__`. */
  labels: string[];
}

/** PromQL's aggregation operators. */
export const AGGREGATIONS: ReadonlySet<string> = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);

/** PromQL's functions (Prometheus 3), plus `start`/`end` of the `@` modifier. */
export const FUNCTIONS: ReadonlySet<string> = new Set([
  "abs",
  "absent",
  "absent_over_time",
  "acos",
  "acosh",
  "asin",
  "asinh",
  "atan",
  "atanh",
  "avg_over_time",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "cos",
  "cosh",
  "count_over_time",
  "day_of_month",
  "day_of_week",
  "day_of_year",
  "days_in_month",
  "deg",
  "delta",
  "deriv",
  "double_exponential_smoothing",
  "end",
  "exp",
  "floor",
  "histogram_avg",
  "histogram_count",
  "histogram_fraction",
  "histogram_quantile",
  "histogram_stddev",
  "histogram_stdvar",
  "histogram_sum",
  "holt_winters",
  "hour",
  "idelta",
  "increase",
  "info",
  "irate",
  "label_join",
  "label_replace",
  "last_over_time",
  "ln",
  "log10",
  "log2",
  "mad_over_time",
  "max_over_time",
  "min_over_time",
  "minute",
  "month",
  "pi",
  "predict_linear",
  "present_over_time",
  "quantile_over_time",
  "rad",
  "rate",
  "resets",
  "round",
  "scalar",
  "sgn",
  "sin",
  "sinh",
  "sort",
  "sort_by_label",
  "sort_by_label_desc",
  "sort_desc",
  "sqrt",
  "start",
  "stddev_over_time",
  "stdvar_over_time",
  "sum_over_time",
  "tan",
  "tanh",
  "time",
  "timestamp",
  "vector",
  "year",
]);

/** Binary operator keywords and literals, which are not metric names. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "atan2", "offset", "inf", "nan"]);
const MODIFIERS = new Set(["on", "ignoring", "group_left", "group_right"]);

type Kind = "ident" | "num" | "str" | "op" | "(" | ")" | "{" | "}" | "," | "range" | "var";
interface Token {
  kind: Kind;
  text: string;
  pos: number;
}

/** An expression the reader cannot read. */
export class PromQLError extends Error {
  constructor(message: string, readonly expr: string, readonly pos: number) {
    super(`${message} at offset ${pos} of: ${expr}`);
    this.name = "PromQLError";
  }
}

const OPS = ["==", "!=", ">=", "<=", "=~", "!~", "+", "-", "*", "/", "%", "^", ">", "<", "=", "@"];

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (m: string): never => {
    throw new PromQLError(m, expr, i);
  };
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
      continue;
    }
    const pos = i;
    if (c === '"' || c === "'" || c === "`") {
      let v = "";
      i++;
      while (i < expr.length && expr[i] !== c) {
        if (expr[i] === "\\" && c !== "`") {
          const n = expr[i + 1];
          v += n === "n" ? "\n" : n === "t" ? "\t" : n;
          i += 2;
        } else v += expr[i++];
      }
      if (i >= expr.length) fail("unterminated string");
      i++;
      out.push({ kind: "str", text: v, pos });
      continue;
    }
    if (c === "[") {
      // A range or subquery ([5m], [$__rate_interval], [1h:5m]): nothing in it names a series.
      const end = expr.indexOf("]", i);
      if (end < 0) fail("unterminated [");
      i = end + 1;
      out.push({ kind: "range", text: expr.slice(pos, i), pos });
      continue;
    }
    if (c === "$") {
      const m = /^\$(?:\{[^}]*\}|[a-zA-Z0-9_]+)/.exec(expr.slice(i));
      if (!m) fail("a lone $");
      i += m![0].length;
      out.push({ kind: "var", text: m![0], pos });
      continue;
    }
    if ("(){},".includes(c)) {
      i++;
      out.push({ kind: c as Kind, text: c, pos });
      continue;
    }
    const num = /^(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)[a-zA-Z0-9]*/.exec(expr.slice(i));
    if (num && /[0-9.]/.test(c)) {
      i += num[0].length;
      out.push({ kind: "num", text: num[0], pos });
      continue;
    }
    const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (id) {
      i += id[0].length;
      out.push({ kind: "ident", text: id[0], pos });
      continue;
    }
    const op = OPS.find((o) => expr.startsWith(o, i));
    if (!op) fail(`unexpected character ${JSON.stringify(c)}`);
    i += op!.length;
    out.push({ kind: "op", text: op!, pos });
  }
  return out;
}

interface Found {
  metric: string;
  matchers: Matcher[];
  labels: Set<string>;
}

interface Arg {
  selectors: Found[];
  /** The argument's value when it is one string literal (label names of label_replace, ...). */
  string?: string;
}

class Reader {
  readonly #t: Token[];
  #i = 0;
  constructor(readonly expr: string) {
    this.#t = tokenize(expr);
  }

  #peek(offset = 0): Token | undefined {
    return this.#t[this.#i + offset];
  }
  #fail(message: string, at = this.#peek()): never {
    throw new PromQLError(message, this.expr, at?.pos ?? this.expr.length);
  }
  #expect(kind: Kind): Token {
    const t = this.#peek();
    if (t?.kind !== kind) this.#fail(`expected ${kind}, found ${t ? JSON.stringify(t.text) : "the end"}`);
    this.#i++;
    return t!;
  }

  /** The whole expression. */
  read(): Found[] {
    const found = this.#sequence(new Set());
    if (this.#peek()) this.#fail(`unexpected ${JSON.stringify(this.#peek()!.text)}`);
    if (found.length === 0) this.#fail("no series selector");
    return found;
  }

  /** A label list `(a, b,)`. */
  #labelList(): string[] {
    this.#expect("(");
    const names: string[] = [];
    while (this.#peek()?.kind !== ")") {
      const t = this.#peek();
      if (t?.kind !== "ident" && t?.kind !== "str") this.#fail("expected a label name");
      names.push(t!.text);
      this.#i++;
      if (this.#peek()?.kind === ",") this.#i++;
      else if (this.#peek()?.kind !== ")") this.#fail("expected , or ) in a label list");
    }
    this.#i++;
    return names;
  }

  /** `(arg, arg, ...)`. */
  #args(): Arg[] {
    this.#expect("(");
    const args: Arg[] = [];
    if (this.#peek()?.kind === ")") {
      this.#i++;
      return args;
    }
    while (true) {
      const start = this.#i;
      const selectors = this.#sequence(new Set([",", ")"]));
      const only = this.#i === start + 1 ? this.#t[start] : undefined;
      args.push({ selectors, string: only?.kind === "str" ? only.text : undefined });
      const t = this.#peek();
      if (t?.kind === ",") this.#i++;
      else if (t?.kind === ")") {
        this.#i++;
        return args;
      } else this.#fail("expected , or ) after a function argument");
    }
  }

  /** `{a="b", c=~"d"}` after `{` was seen. */
  #matchers(): Matcher[] {
    this.#expect("{");
    const out: Matcher[] = [];
    while (this.#peek()?.kind !== "}") {
      const name = this.#peek();
      if (name?.kind !== "ident" && name?.kind !== "str") this.#fail("expected a label name in a matcher");
      this.#i++;
      const op = this.#peek();
      if (op?.kind !== "op" || !["=", "!=", "=~", "!~"].includes(op.text)) {
        this.#fail(`expected =, !=, =~ or !~ after label ${name!.text}`);
      }
      this.#i++;
      const value = this.#expect("str");
      out.push({ label: name!.text, op: op!.text as Matcher["op"], value: value.text });
      if (this.#peek()?.kind === ",") this.#i++;
      else if (this.#peek()?.kind !== "}") this.#fail("expected , or } in a selector");
    }
    this.#i++;
    return out;
  }

  #selector(metric: string | undefined): Found {
    const matchers = this.#peek()?.kind === "{" ? this.#matchers() : [];
    const byName = matchers.find((m) => m.label === "__name__");
    if (byName && byName.op !== "=") this.#fail("only __name__= selects a metric this reader can check");
    const name = metric ?? byName?.value;
    if (!name) this.#fail("a selector without a metric name");
    const rest = matchers.filter((m) => m.label !== "__name__");
    return { metric: name!, matchers: rest, labels: new Set(rest.map((m) => m.label)) };
  }

  /** Operands and operators up to a token of `stop` (not consumed) or the end. */
  #sequence(stop: Set<string>): Found[] {
    const found: Found[] = [];
    const bothSides: string[] = [];
    const onRight: Array<{ labels: string[]; from: number }> = [];
    const onLeft: Array<{ labels: string[]; until: number }> = [];
    const attribute = (labels: Iterable<string>, to: Found[]) => {
      for (const f of to) for (const l of labels) f.labels.add(l);
    };
    while (this.#peek() && !stop.has(this.#peek()!.kind)) {
      const t = this.#peek()!;
      if (t.kind === "(") {
        this.#i++;
        found.push(...this.#sequence(new Set([")"])));
        this.#expect(")");
      } else if (t.kind === "{") {
        found.push(this.#selector(undefined));
      } else if (t.kind === "ident") {
        const name = t.text;
        const next = this.#peek(1);
        if (
          AGGREGATIONS.has(name) && (next?.kind === "(" || next?.text === "by" || next?.text === "without")
        ) {
          this.#i++;
          let grouping: string[] = [];
          if (this.#peek()?.text === "by" || this.#peek()?.text === "without") {
            this.#i++;
            grouping = this.#labelList();
          }
          const inner = this.#args().flatMap((a) => a.selectors);
          if (this.#peek()?.text === "by" || this.#peek()?.text === "without") {
            this.#i++;
            grouping = this.#labelList();
          }
          attribute(grouping, inner);
          found.push(...inner);
        } else if (next?.kind === "(" && FUNCTIONS.has(name)) {
          this.#i++;
          const args = this.#args();
          const vector = args[0]?.selectors ?? [];
          if (name === "histogram_quantile") attribute(["le"], args[1]?.selectors ?? []);
          const strings = (from: number) =>
            args.slice(from).map((a) => a.string).filter((s) => !!s) as string[];
          if (name === "label_replace") attribute(strings(3).slice(0, 1), vector);
          if (name === "label_join") attribute(strings(3), vector);
          if (name === "sort_by_label" || name === "sort_by_label_desc") attribute(strings(1), vector);
          found.push(...args.flatMap((a) => a.selectors));
        } else if (next?.kind === "(" && !MODIFIERS.has(name)) {
          this.#fail(`unknown function ${name}`, t);
        } else if (MODIFIERS.has(name)) {
          this.#i++;
          const labels = this.#peek()?.kind === "(" ? this.#labelList() : [];
          if (name === "group_left") onRight.push({ labels, from: found.length });
          else if (name === "group_right") onLeft.push({ labels, until: found.length });
          else bothSides.push(...labels);
        } else if (name === "by" || name === "without") {
          this.#fail(`${name} outside an aggregation`, t);
        } else if (KEYWORDS.has(name.toLowerCase())) {
          this.#i++;
        } else {
          this.#i++;
          found.push(this.#selector(name));
        }
      } else if (t.kind === "}" || t.kind === ")" || t.kind === ",") {
        this.#fail(`unexpected ${t.text}`, t);
      } else {
        this.#i++; // numbers, strings, operators, ranges, Grafana variables
      }
    }
    attribute(bothSides, found);
    for (const g of onRight) attribute(g.labels, found.slice(g.from));
    for (const g of onLeft) attribute(g.labels, found.slice(0, g.until));
    return found;
  }
}

/** Every series selector of `expr`; throws a {@link PromQLError} on what it cannot read. */
export function selectors(expr: string): Selector[] {
  return new Reader(expr).read().map((f) => ({
    metric: f.metric,
    matchers: f.matchers,
    labels: [...f.labels].filter((l) => l !== "__name__").sort(),
  }));
}

/** One series of a scrape: its sample name and labels. */
export interface Series {
  name: string;
  labels: Record<string, string>;
}

/** Options of {@link checkSelectors}. */
export interface CheckOptions {
  /**
   * Labels Prometheus adds at scrape time (the target's), which the exposition itself never has:
   * not checked. Default `job` and `instance`, which every scrape configuration gives.
   */
  targetLabels?: readonly string[];
}

const hasVariable = (v: string) => v.includes("$");

/**
 * Checks the selectors of `expr` against scraped series and returns the problems (empty when
 * every metric is exported with every label the expression uses, and every literal `=`/`=~`
 * matcher selects at least one series). Matchers with Grafana variables are checked for the
 * label only.
 */
export function checkSelectors(
  expr: string,
  series: readonly Series[],
  options: CheckOptions = {},
): string[] {
  const external = new Set(options.targetLabels ?? ["job", "instance"]);
  const problems: string[] = [];
  for (const s of selectors(expr)) {
    problems.push(...checkSelector(s, series, external));
  }
  return problems;
}

/** {@link checkSelectors} for one selector. */
export function checkSelector(
  s: Selector,
  series: readonly Series[],
  external: ReadonlySet<string>,
): string[] {
  const family = series.filter((x) => x.name === s.metric);
  if (family.length === 0) return [`metric ${s.metric} is not exported`];
  const problems: string[] = [];
  const known = [...new Set(family.flatMap((x) => Object.keys(x.labels)))].sort();
  for (const label of s.labels) {
    if (external.has(label)) continue;
    if (!known.includes(label)) {
      problems.push(`${s.metric} has no label ${label} (its labels: ${known.join(", ") || "none"})`);
    }
  }
  for (const m of s.matchers) {
    if (external.has(m.label) || hasVariable(m.value) || !known.includes(m.label)) continue;
    const values = [...new Set(family.map((x) => x.labels[m.label] ?? ""))];
    const ok = m.op === "="
      ? values.includes(m.value)
      : m.op === "=~"
      ? values.some((v) => new RegExp(`^(?:${m.value})$`).test(v))
      : true;
    if (!ok) {
      problems.push(
        `no series ${s.metric}{${m.label}${m.op}${JSON.stringify(m.value)}} (values: ${
          values.sort().join(", ")
        })`,
      );
    }
  }
  return problems;
}
