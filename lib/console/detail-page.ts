/**
 * One DataFlow: its spec as YAML, status and conditions (live), the ConfigMap and Deployment the
 * operator made for it, its processor pods (with links to their logs) and its Event timeline.
 */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap, Event, Pod } from "kubernetes-types/core/v1";
import { builtin, type KubeClient } from "../kube/mod.ts";
import { configMapName, deploymentName, NAME_LABEL } from "../dataflow/names.ts";
import type { DataFlow } from "../dataflow/schema.ts";
import { dataflowPath, phaseBadge, query, settle, type Settled, timeAgo, toYaml } from "./format.ts";
import { type Html, html, tableHead } from "./html.ts";
import { canWrite, csrfField, type Flash, renderPage, type Viewer } from "./layout.ts";

/** Everything the page shows besides the DataFlow itself, each read on its own. */
export interface DetailData {
  configMap: Settled<ConfigMap | null>;
  deployment: Settled<Deployment | null>;
  pods: Settled<Pod[]>;
  events: Settled<Event[]>;
}

/** The label selector of a DataFlow's processor pods. */
export function podSelector(name: string): string {
  return `app=dataflow-processor,${NAME_LABEL}=${name}`;
}

/** Reads the owned objects, pods and Events of a DataFlow (a failed read is shown, not thrown). */
export async function loadDetail(client: KubeClient, df: DataFlow): Promise<DetailData> {
  const namespace = df.metadata.namespace ?? "";
  const name = df.metadata.name;
  const orNull = async <T>(p: Promise<T>): Promise<T | null> => {
    try {
      return await p;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  };
  const [configMap, deployment, pods, events] = await Promise.all([
    settle(orNull(client.get<ConfigMap>(builtin.ConfigMap, configMapName(name), { namespace }))),
    settle(orNull(client.get<Deployment>(builtin.Deployment, deploymentName(name), { namespace }))),
    settle(
      client.list<Pod>(builtin.Pod, { namespace, labelSelector: podSelector(name) }).then((l) => l.items),
    ),
    settle(
      client.list<Event>(builtin.Event, {
        namespace,
        fieldSelector: `involvedObject.kind=DataFlow,involvedObject.name=${name}`,
      }).then((l) => l.items),
    ),
  ]);
  return { configMap, deployment, pods, events };
}

/** An Event's occurrence count, first and last time (core/v1 and events.k8s.io series alike). */
export function eventTimes(e: Event): { count: number; first?: string; last?: string } {
  const count = e.count ?? e.series?.count ?? 1;
  const first = e.firstTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
  const last = e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? first;
  return { count, first, last };
}

/** The status section (element id `status`): what the live stream replaces when the DataFlow changes. */
export function renderStatus(df: DataFlow): Html {
  const s = df.status;
  const gen = df.metadata.generation;
  const conditions = s?.conditions ?? [];
  return html`<section id="status" aria-labelledby="status-h">
<h2 id="status-h">Status</h2>
<dl class="facts">
  <dt>Phase</dt><dd class="phase-cell">${phaseBadge(s?.phase)}</dd>
  <dt>Message</dt><dd class="status-message">${s?.message || html`<span class="muted">—</span>`}</dd>
  <dt>Observed generation</dt><dd>${s?.observedGeneration ?? "—"} of ${gen ?? "—"}${
    gen !== undefined && s?.observedGeneration !== gen
      ? html`
        <span class="muted">(not reconciled yet)</span>
      `
      : ""
  }</dd>
  ${
    df.metadata.deletionTimestamp && html`
      <dt>Deleting</dt>
      <dd>since ${timeAgo(df.metadata.deletionTimestamp)}</dd>
    `
  }
</dl>
<h3 class="sr-only">Conditions</h3>
${
    conditions.length
      ? html`
        <table class="conditions">
          ${tableHead("Condition", "Status", "Reason", "Message", "Changed")}
          <tbody>
        ${conditions.map((c) =>
          html`
            <tr>
              <td>${c.type}</td>
              <td>${c.status}</td>
              <td>${c.reason ?? ""}</td>
              <td class="message">${c.message ?? ""}</td>
              <td>${timeAgo(c.lastTransitionTime)}</td>
            </tr>
          `
        )}</tbody>
        </table>
      `
      : html`<p class="muted">No conditions.</p>`
  }
</section>`;
}

function unreadable(what: string, r: { error: string }): Html {
  return html`<p class="banner error">Cannot read the ${what}: ${r.error}</p>`;
}

function renderConfigMap(name: string, r: Settled<ConfigMap | null>): Html {
  const title = html`<h2>ConfigMap <code>${configMapName(name)}</code></h2>`;
  if (!r.ok) return html`${title}${unreadable("ConfigMap", r)}`;
  if (!r.value) return html`${title}<p class="muted">Not created (yet).</p>`;
  const data = r.value.data ?? {};
  return html`${title}<p class="muted">References only: Secret values are resolved inside the processor pod.</p>
${
    Object.entries(data).map(([k, v]) =>
      html`
        <h3>${k}</h3>
        <pre>${v}</pre>
      `
    )
  }`;
}

function renderDeployment(name: string, r: Settled<Deployment | null>): Html {
  const title = html`<h2>Deployment <code>${deploymentName(name)}</code></h2>`;
  if (!r.ok) return html`${title}${unreadable("Deployment", r)}`;
  if (!r.value) return html`${title}<p class="muted">Not created (yet).</p>`;
  const d = r.value;
  const s = d.status ?? {};
  const images = (d.spec?.template?.spec?.containers ?? []).map((c) => `${c.name}: ${c.image}`);
  return html`
    ${title}<dl class="facts">
      <dt>Replicas</dt>
      <dd>${s.readyReplicas ?? 0} ready, ${s.updatedReplicas ?? 0} up to date, ${s.availableReplicas ??
        0} available of ${d.spec?.replicas ?? 1}</dd>
      <dt>Images</dt>
      <dd>${images.join(", ")}</dd>
      <dt>Conditions</dt>
      <dd>${(s.conditions ?? []).map((c) =>
        html`<div>${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ""}</div>`
      )}${!(s.conditions ?? []).length && html`<span class="muted">none</span>`}</dd>
    </dl>
  `;
}

function renderPods(df: DataFlow, r: Settled<Pod[]>): Html {
  const title = html`<h2>Processor pods</h2>`;
  if (!r.ok) return html`${title}${unreadable("pods", r)}`;
  if (!r.value.length) return html`${title}<p class="muted">No processor pods.</p>`;
  const ns = df.metadata.namespace ?? "", name = df.metadata.name;
  const logsLink = (pod: string, container: string) =>
    html`<a href="${dataflowPath(ns, name, `/logs${query({ pod, container })}`)}">${container}</a>`;
  return html`
    ${title}<table>
      ${tableHead("Pod", "Phase", "Ready", "Restarts", "State", "Node", "Logs")}
      <tbody>
    ${r.value.map((p) => {
      const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
      const ready = (p.status?.containerStatuses ?? []).filter((c) => c.ready).length;
      const restarts = statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
      const states = statuses.map((c) => {
        const st = c.state ?? {};
        const what = st.running
          ? "running"
          : st.waiting
          ? `waiting: ${st.waiting.reason ?? ""}`
          : st.terminated
          ? `terminated: ${st.terminated.reason ?? st.terminated.exitCode}`
          : "unknown";
        return `${c.name} ${what}`;
      });
      const containers = [
        ...(p.spec?.initContainers ?? []).map((c) => c.name),
        ...(p.spec?.containers ?? []).map((c) => c.name),
      ];
      const podName = p.metadata?.name ?? "";
      return html`
        <tr>
          <td>${podName}</td>
          <td>${p.status?.phase ?? ""}</td>
          <td>${ready}/${(p.spec?.containers ?? []).length}</td>
          <td>${restarts}</td>
          <td>${states.join("; ")}</td>
          <td>${p.spec?.nodeName ?? ""}</td>
          <td>${containers.map((c, i) => html`${i ? ", " : ""}${logsLink(podName, c)}`)}</td>
        </tr>
      `;
    })}</tbody>
    </table>
  `;
}

function renderEvents(r: Settled<Event[]>): Html {
  const title = html`<h2 id="events">Events</h2>`;
  if (!r.ok) return html`${title}${unreadable("Events", r)}`;
  if (!r.value.length) {
    return html`${title}<p class="muted">No Events (Events expire after an hour by default).</p>`;
  }
  const rows = r.value.map((e) => ({ e, ...eventTimes(e) }))
    .sort((a, b) => (b.last ?? "").localeCompare(a.last ?? ""));
  return html`
    ${title}<table id="timeline">
      ${tableHead("Type", "Reason", "Message", "Count", "First seen", "Last seen", "From")}
      <tbody>
    ${rows.map(({ e, count, first, last }) =>
      html`
        <tr class="event">
          <td class="${e.type === "Warning" ? "type-warning" : ""}">${e.type ?? ""}</td>
          <td>${e.reason ?? ""}</td>
          <td class="message">${e.message ?? ""}</td>
          <td class="count">${count}</td>
          <td>${timeAgo(first)}</td>
          <td class="last-seen">${timeAgo(last)}</td>
          <td>${e.reportingComponent || e.source?.component || ""}</td>
        </tr>
      `
    )}</tbody>
    </table>
  `;
}

/** The spec as the page shows it, and as the edit form starts from. */
export function editableYaml(df: DataFlow): string {
  const m = df.metadata;
  const metadata: Record<string, unknown> = { name: m.name, namespace: m.namespace };
  if (m.labels && Object.keys(m.labels).length) metadata.labels = m.labels;
  if (m.annotations && Object.keys(m.annotations).length) metadata.annotations = m.annotations;
  metadata.resourceVersion = m.resourceVersion;
  return toYaml({
    apiVersion: df.apiVersion ?? "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata,
    spec: df.spec,
  });
}

/** The whole page. */
export function renderDetailPage(
  options: { viewer: Viewer; df: DataFlow; data: DetailData; flash?: Flash },
): string {
  const { viewer, df, data } = options;
  const ns = df.metadata.namespace ?? "", name = df.metadata.name;
  const stream = `/api/stream${query({ dataflow: `${ns}/${name}` })}`;
  const writable = canWrite(viewer);
  const content = html`
    <p><a href="/">← DataFlows</a></p>
    <h1>DataFlow <span class="ns">${ns}</span>/<span class="name">${name}</span></h1>
    <div id="gone" class="banner error" role="alert" hidden></div>
    <div class="actions">
      <span id="live" class="live" data-state="off" role="status">not live (no script)</span>
      ${writable && html`
        <a class="button" href="${dataflowPath(ns, name, "/edit")}">Edit</a>
        <a class="button" href="${dataflowPath(ns, name, "/delete")}">Delete…</a>
      `}
      ${viewer.writes === "token" && !viewer.user && html`<a href="/login">Sign in to edit</a>`}
    </div>
    <div class="grid2">
      <div>${renderStatus(df)}
    ${renderDeployment(name, data.deployment)}
      </div>
      <div>
        <h2>Spec</h2>
        <pre id="spec">${editableYaml(df)}</pre>
      </div>
    </div>
    ${renderEvents(data.events)}
    ${renderPods(df, data.pods)}
    ${renderConfigMap(name, data.configMap)}
  `;
  return renderPage(
    { title: `${ns}/${name}`, nav: "dataflows", stream, viewer, flash: options.flash },
    content,
  );
}

/** The delete confirmation page (a form, so no script and no dialog are needed). */
export function renderDeletePage(viewer: Viewer, df: DataFlow): string {
  const ns = df.metadata.namespace ?? "", name = df.metadata.name;
  return renderPage(
    { title: `Delete ${ns}/${name}`, viewer },
    html`<h1>Delete DataFlow ${ns}/${name}?</h1>
<p>The operator removes its ConfigMap and Deployment (the processor stops), then the DataFlow goes.</p>
<form method="post" action="${dataflowPath(ns, name, "/delete")}" class="actions">${csrfField(viewer)}
<input type="hidden" name="uid" value="${df.metadata.uid ?? ""}">
<button type="submit" class="danger">Delete ${name}</button>
<a href="${dataflowPath(ns, name)}">Cancel</a></form>`,
  );
}
