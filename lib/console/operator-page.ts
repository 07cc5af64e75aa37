/** The operator page: leader, work queue, reconciles and errors, the Event recorder's counters. */
import { type Html, html } from "./html.ts";
import { timeAgo } from "./format.ts";
import { renderPage, type Viewer } from "./layout.ts";
import type { MetricsView, OperatorView } from "./operator-status.ts";

function card(label: string, value: string | number | undefined, id: string, note?: string): Html {
  return html`
    <div class="card"
      id="${id}"><div class="value">${value ?? "—"}</div><div class="label">${label}</div>${note &&
        html`<div class="label">${note}</div>`}</div>
  `;
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k || "(none)"} ${n}`).join(", ") : "none";
}

const perMinute = (perSecond: number) => (perSecond * 60).toFixed(perSecond * 60 >= 10 ? 0 : 1);

function renderMetrics(m: MetricsView): Html {
  const total = Object.values(m.reconciles).reduce((a, b) => a + b, 0);
  const rate = m.rate;
  const window = rate &&
    (rate.since === "start"
      ? "average since the operator started"
      : `over the last ${Math.round(rate.windowSeconds)} s`);
  const written = Object.values(m.events.written).reduce((a, b) => a + b, 0);
  const emitted = Object.values(m.events.emitted).reduce((a, b) => a + b, 0);
  return html`
    <div class="cards">
    ${card(
      "items in the work queue",
      m.queueDepth,
      "queue-depth",
      m.leader === 0 ? "(a standby answered: its queue is idle)" : undefined,
    )}
    ${card("reconciles in progress", m.activeWorkers, "active-workers")}
    ${card("reconciles", total, "reconciles-total", counts(m.reconciles))}
    ${card("reconcile errors", m.reconcileErrors, "reconcile-errors")}
    ${card(
      "reconciles / min",
      rate ? perMinute(rate.reconciles) : undefined,
      "reconcile-rate",
      window || "reload for a rate",
    )}
    ${card("errors / min", rate ? perMinute(rate.errors) : undefined, "error-rate", window || undefined)}
    </div>
    <h2>Event recorder</h2>
    <dl class="facts" id="event-counters">
      <dt>Occurrences recorded</dt>
      <dd id="events-emitted">${emitted} (${counts(m.events.emitted)})</dd>
      <dt>API writes</dt>
      <dd id="events-written">${written} (${counts(m.events.written)})</dd>
      <dt>Counted into an existing Event</dt>
      <dd id="events-coalesced">${m.events.coalesced ?? 0}</dd>
      <dt>Dropped</dt>
      <dd id="events-dropped">${counts(m.events.dropped)}</dd>
      <dt>Failed API calls</dt>
      <dd id="events-api-errors">${counts(m.events.apiErrors)}</dd>
      <dt>Waiting for a write</dt>
      <dd>${m.events.queueDepth ?? 0}</dd>
    </dl>
    <h2>DataFlows by phase (as the operator counts them)</h2>
    <p id="dataflow-phases">${counts(m.dataflows)}</p>
  `;
}

/** The page. */
export function renderOperatorPage(viewer: Viewer, view: OperatorView): string {
  const lease = view.lease;
  const leaseHtml = !lease.ok
    ? html`<div class="banner error" role="alert">Cannot read Lease ${view.leaseRef}: ${lease.error}</div>`
    : !lease.value
    ? html`
      <p
        class="banner info">No Lease ${view
          .leaseRef}: the operator runs without leader election, in another namespace (--leader-election-namespace), or not at all.</p>
    `
    : html`
      <dl class="facts" id="lease">
        <dt>Leader</dt>
        <dd id="leader">${lease.value.holder ?? "none"}${lease.value.expired
          ? html`
            <strong class="type-warning">(expired: no replica renews it)</strong>
          `
          : ""}</dd>
        <dt>Lease</dt>
        <dd>${view.leaseRef}</dd>
        <dt>Renewed</dt>
        <dd>${timeAgo(lease.value.renewTime)} ago (duration ${lease.value.durationSeconds ?? "?"} s)</dd>
        <dt>Leader since</dt>
        <dd>${timeAgo(lease.value.acquireTime)} ago</dd>
        <dt>Leader changes</dt>
        <dd>${lease.value.transitions ?? 0}</dd>
      </dl>
    `;
  const metrics = view.metrics;
  const metricsHtml = !view.metricsUrl
    ? html`<p class="banner info">No metrics URL configured (--operator-metrics-url).</p>`
    : !metrics?.ok
    ? html`<div class="banner error" role="alert">Cannot read the operator's metrics from ${view.metricsUrl}: ${
      metrics?.error ?? "unknown error"
    }</div>`
    : renderMetrics(metrics.value);
  return renderPage(
    { title: "Operator", nav: "operator", viewer },
    html`<h1>Operator</h1>
<h2>Leader</h2>${leaseHtml}
<h2>Work</h2><p class="muted">From ${view.metricsUrl ?? "—"}, read when this page loads.</p>${metricsHtml}`,
  );
}
