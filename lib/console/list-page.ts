/** The DataFlow list: every watched DataFlow, filtered by namespace and phase, kept live. */
import type { DataFlow } from "../dataflow/schema.ts";
import { dataflowPath, phaseBadge, PHASES, query, rowId, timeAgo } from "./format.ts";
import { type Html, html } from "./html.ts";
import { canWrite, type Flash, renderPage, type Viewer } from "./layout.ts";

/** The list's filters (query parameters `namespace` and `phase`); empty means any. */
export interface ListFilter {
  namespace?: string;
  /** A phase, or `Unknown` for a DataFlow without one. */
  phase?: string;
}

/** The filter of a request's query string (unknown phases are kept: they simply match nothing). */
export function filterFrom(params: URLSearchParams): ListFilter {
  return {
    namespace: params.get("namespace")?.trim() || undefined,
    phase: params.get("phase")?.trim() || undefined,
  };
}

/** Whether a DataFlow passes a filter. */
export function matches(df: DataFlow, filter: ListFilter): boolean {
  if (filter.namespace && df.metadata.namespace !== filter.namespace) return false;
  if (filter.phase) {
    const phase = (PHASES as readonly string[]).includes(df.status?.phase ?? "")
      ? df.status!.phase!
      : "Unknown";
    if (phase !== filter.phase) return false;
  }
  return true;
}

/** The sort key of a row: namespace, then name. */
export function sortKey(df: DataFlow): string {
  return `${df.metadata.namespace ?? ""}/${df.metadata.name}`;
}

/** Sorts DataFlows as the list shows them. */
export function sorted(items: DataFlow[]): DataFlow[] {
  return [...items].sort((a, b) => sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0);
}

/** One row of the list (also what the live stream sends when a DataFlow changes). */
export function renderRow(df: DataFlow, now = Date.now()): Html {
  const ns = df.metadata.namespace ?? "";
  const name = df.metadata.name;
  const source = df.spec?.source?.type ?? "?";
  const sink = df.spec?.sink?.type ?? "?";
  const terminating = df.metadata.deletionTimestamp
    ? html`
      <span class="muted">(deleting)</span>
    `
    : "";
  return html`
    <tr id="${rowId(ns, name)}" data-sort="${sortKey(df)}">
      <td>${ns}</td>
      <td><a class="row-link" href="${dataflowPath(ns, name)}">${name}</a>${terminating}</td>
      <td class="phase-cell">${phaseBadge(df.status?.phase)}</td>
      <td class="flow">${source} → ${sink}</td>
      <td>${timeAgo(df.metadata.creationTimestamp as string | undefined, now)}</td>
      <td class="message">${df.status?.message ?? ""}</td>
    </tr>
  `;
}

/** The list page. `namespaces` fills the namespace filter (the watched ones, or those seen). */
export function renderListPage(options: {
  viewer: Viewer;
  items: DataFlow[];
  filter: ListFilter;
  namespaces: string[];
  synced: boolean;
  flash?: Flash;
}): string {
  const { viewer, filter } = options;
  const rows = sorted(options.items.filter((df) => matches(df, filter)));
  const now = Date.now();
  const nsOptions = [...new Set([...options.namespaces, ...(filter.namespace ? [filter.namespace] : [])])]
    .sort();
  const option = (value: string, label: string, selected: boolean) =>
    html`
      <option value="${value}" ${selected
        ? html`
          selected
        `
        : html``}>${label}</option>
    `;
  const stream = `/api/stream${query({ namespace: filter.namespace, phase: filter.phase })}`;
  const content = html`
    <h1>DataFlows</h1>
    ${!options.synced &&
      html`<div class="banner info" role="status">Loading DataFlows from the API server…</div>`}
    <form class="toolbar" method="get" action="/" aria-label="Filter DataFlows">
      <label>Namespace
        <select name="namespace" data-autosubmit>
          ${option("", "all namespaces", !filter.namespace)}
          ${nsOptions.map((ns) => option(ns, ns, ns === filter.namespace))}
        </select>
      </label>
      <label>Phase
        <select name="phase" data-autosubmit>
          ${option("", "any phase", !filter.phase)}
          ${[...PHASES, "Unknown"].map((p) => option(p, p, p === filter.phase))}
        </select>
      </label>
      <button type="submit">Filter</button>
      <span class="spacer"></span>
      <span id="live" class="live" data-state="off" role="status">not live (no script)</span>
      ${canWrite(viewer) && html`<a class="button primary" href="/new">New DataFlow</a>`}
    </form>
    <table id="dataflows">
      <caption class="sr-only">DataFlows${filter.namespace ? ` in ${filter.namespace}` : ""}${filter.phase
        ? `, phase ${filter.phase}`
        : ""}; arrow keys move between rows</caption>
      <thead>
        <tr>
          <th scope="col">Namespace</th>
          <th scope="col">Name</th>
          <th scope="col">Phase</th>
          <th scope="col">Source → Sink</th>
          <th scope="col">Age</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody id="rows" data-empty="No DataFlows match.">
    ${rows.map((df) => renderRow(df, now))}
    ${!rows.length && html`
      <tr id="empty-row">
        <td colspan="6">No DataFlows match.</td>
      </tr>
    `}
      </tbody>
    </table>
  `;
  return renderPage({ title: "DataFlows", nav: "dataflows", stream, viewer, flash: options.flash }, content);
}
