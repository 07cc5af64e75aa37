/**
 * A processor pod's log, read through the API server (`pods/log`). Only pods of the DataFlow in
 * the URL are served: the console's ServiceAccount may read logs cluster-wide, its pages must not
 * become a way to read any pod's log.
 */
import type { Pod } from "kubernetes-types/core/v1";
import { builtin, errorFromResponse, type KubeClient, resourcePath } from "../kube/mod.ts";
import { NAME_LABEL } from "../dataflow/names.ts";
import { dataflowPath, errorText } from "./format.ts";
import { html } from "./html.ts";
import { renderPage, type Viewer } from "./layout.ts";

/** Lines of a log the page shows (the newest). */
export const LOG_TAIL_LINES = 500;

/** Why a log is not served: the pod is not this DataFlow's, or has no such container. */
export class NotThisDataFlowsPod extends Error {}

/** Reads the tail of one container's log, after checking that the pod belongs to the DataFlow. */
export async function readProcessorLog(
  client: KubeClient,
  options: { namespace: string; dataflow: string; pod: string; container: string; signal?: AbortSignal },
): Promise<string> {
  const { namespace, dataflow, pod, container } = options;
  const p = await client.get<Pod>(builtin.Pod, pod, { namespace, signal: options.signal });
  const labels = p.metadata?.labels ?? {};
  if (labels[NAME_LABEL] !== dataflow || labels.app !== "dataflow-processor") {
    throw new NotThisDataFlowsPod(`pod ${pod} is not a processor pod of DataFlow ${namespace}/${dataflow}`);
  }
  const names = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name);
  if (!names.includes(container)) {
    throw new NotThisDataFlowsPod(`pod ${pod} has no container ${container} (it has ${names.join(", ")})`);
  }
  const path = resourcePath(builtin.Pod, namespace, pod, "log");
  const res = await client.transport.request({
    method: "GET",
    path,
    query: new URLSearchParams({ container, tailLines: String(LOG_TAIL_LINES), limitBytes: String(1 << 20) }),
    headers: { Accept: "text/plain, application/json" },
    signal: options.signal ?? AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* plain text */ }
    throw errorFromResponse(res.status, body, `GET ${path}`, null, client.transport.server);
  }
  return text;
}

/** The log page: the tail of the log, or why it could not be read. */
export function renderLogsPage(options: {
  viewer: Viewer;
  namespace: string;
  dataflow: string;
  pod: string;
  container: string;
  log?: string;
  error?: unknown;
}): string {
  const { namespace, dataflow, pod, container } = options;
  return renderPage(
    { title: `Logs of ${pod}`, nav: "dataflows", viewer: options.viewer },
    html`<p><a href="${dataflowPath(namespace, dataflow)}">← ${namespace}/${dataflow}</a></p>
<h1>Logs of ${pod}, container ${container}</h1>
${
      options.error !== undefined
        ? html`<div class="banner error" role="alert">The API server did not give the log: ${
          errorText(options.error)
        }</div>`
        : html`<p class="muted">The last ${LOG_TAIL_LINES} lines (at most 1 MiB); reload for newer lines.</p>
<pre id="log">${options.log || "(empty)"}</pre>`
    }`,
  );
}
