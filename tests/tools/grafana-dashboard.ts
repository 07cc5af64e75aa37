/**
 * The queries of a Grafana dashboard and their check against a scrape: every panel target's
 * `expr` (rows included, collapsed or not), every Prometheus query variable
 * (`label_values(metric{...}, label)`, `label_values(label)`, `query_result(expr)`), and the
 * `{{label}}` of each legend. See {@link checkDashboard}.
 */
import { checkSelector, type Selector, selectors, type Series } from "./promql.ts";

/** One query of a dashboard. */
export interface DashboardQuery {
  /** Where it is, for messages: `panel "Reconciles" target A`, `variable job`. */
  where: string;
  /** The PromQL expression (for `label_values(label)` without a metric: undefined). */
  expr?: string;
  /** Labels the query needs beyond its expression's: the label of `label_values`. */
  labels: string[];
  /** The labels its legend shows (`{{phase}}`). */
  legend: string[];
}

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string; refId?: string; legendFormat?: string; hide?: boolean }>;
  panels?: Panel[];
}

interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: unknown;
}

/** A dashboard's JSON model (what this module reads of it). */
export interface Dashboard {
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

/** Splits `a, b` at its last top-level comma (none: one part). */
function splitLastComma(s: string): [string, string] | [string] {
  let depth = 0, quote = "";
  let last = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("({[".includes(c)) depth++;
    else if (")}]".includes(c)) depth--;
    else if (c === "," && depth === 0) last = i;
  }
  return last < 0 ? [s.trim()] : [s.slice(0, last).trim(), s.slice(last + 1).trim()];
}

/** Every query of the dashboard, panels first (in order), then the variables. */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr !== "string") continue;
        const legend = [...(t.legendFormat ?? "").matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((
          m,
        ) => m[1]);
        out.push({ where: `panel "${p.title}" target ${t.refId ?? "?"}`, expr: t.expr, labels: [], legend });
      }
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = (typeof v.query === "string" ? v.query : v.query?.query) ?? v.definition ?? "";
    const where = `variable ${v.name}`;
    const lv = /^\s*label_values\(([\s\S]*)\)\s*$/.exec(q);
    const qr = /^\s*query_result\(([\s\S]*)\)\s*$/.exec(q);
    if (lv) {
      const parts = splitLastComma(lv[1]);
      if (parts.length === 1) out.push({ where, labels: [parts[0]], legend: [] });
      else out.push({ where, expr: parts[0], labels: [parts[1]], legend: [] });
    } else if (qr) out.push({ where, expr: qr[1], labels: [], legend: [] });
    else {throw new Error(
        `${where}: query ${JSON.stringify(q)} is not label_values(...) or query_result(...)`,
      );}
  }
  return out;
}

/** Options of {@link checkDashboard}. */
export interface DashboardCheckOptions {
  /** Labels Prometheus adds to every scraped series (default `job`, `instance`). */
  targetLabels?: readonly string[];
}

/** The metrics and labels a dashboard reads, and what it reads that a scrape does not have. */
export interface DashboardReport {
  /** Every selector, with where it is. */
  selectors: Array<Selector & { where: string }>;
  /** One line per problem (empty: every query reads only what the scrape has). */
  problems: string[];
}

/**
 * Checks every query of `dashboard` against the series of a scrape: each metric must be exported,
 * with each label its query uses (matchers, grouping, `le`, the label of `label_values`, the
 * legend's labels), and each literal `=`/`=~` matcher must select a series. A query that cannot
 * be read is a problem too.
 */
export function checkDashboard(
  dashboard: Dashboard,
  series: readonly Series[],
  options: DashboardCheckOptions = {},
): DashboardReport {
  const external = new Set(options.targetLabels ?? ["job", "instance"]);
  const report: DashboardReport = { selectors: [], problems: [] };
  for (const q of dashboardQueries(dashboard)) {
    if (q.expr === undefined) {
      for (const l of q.labels) {
        if (!external.has(l) && !series.some((s) => l in s.labels)) {
          report.problems.push(`${q.where}: no series has label ${l}`);
        }
      }
      continue;
    }
    let found: Selector[];
    try {
      found = selectors(q.expr);
    } catch (err) {
      report.problems.push(`${q.where}: ${(err as Error).message}`);
      continue;
    }
    for (const s of found) {
      const withExtra = { ...s, labels: [...new Set([...s.labels, ...q.labels])].sort() };
      report.selectors.push({ ...withExtra, where: q.where });
      for (const p of checkSelector(withExtra, series, external)) report.problems.push(`${q.where}: ${p}`);
    }
    for (const l of q.legend) {
      if (external.has(l)) continue;
      const onSome = found.some((s) => series.some((x) => x.name === s.metric && l in x.labels));
      if (!onSome) report.problems.push(`${q.where}: legend label ${l} is on none of the series it reads`);
    }
  }
  return report;
}
