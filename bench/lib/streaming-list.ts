/**
 * How long the API server takes to stream a list: a watch with `sendInitialEvents`, timed from the
 * request to the `initial-events-end` bookmark. Only each chunk's last KiB is decoded (the
 * bookmark, under 1 KiB, is the last event until something changes), so the client does as
 * little as it can and the time is the server's.
 */
import type { KubeClient } from "../../lib/kube/client.ts";
import { resourcePath, type ResourceType } from "../../lib/kube/resources.ts";

const MARKER = '"k8s.io/initial-events-end":"true"';

/** The time (ms, from `t0` or the request) and bytes until the list's initial-events-end bookmark. */
export async function streamingListTime(
  admin: KubeClient,
  rt: ResourceType,
  options: { labelSelector?: string; timeoutMs?: number; t0?: number } = {},
): Promise<{ ms: number; bytes: number }> {
  const query = new URLSearchParams({
    watch: "1",
    sendInitialEvents: "true",
    resourceVersionMatch: "NotOlderThan",
    resourceVersion: "",
    allowWatchBookmarks: "true",
    timeoutSeconds: String(Math.ceil((options.timeoutMs ?? 900_000) / 1000)),
  });
  if (options.labelSelector) query.set("labelSelector", options.labelSelector);
  const ac = new AbortController();
  const t0 = options.t0 ?? performance.now();
  const res = await admin.transport.request({
    method: "GET",
    path: resourcePath(rt, undefined),
    query,
    signal: AbortSignal.any([ac.signal, AbortSignal.timeout(options.timeoutMs ?? 900_000)]),
    stream: true,
  });
  if (!res.ok || !res.body) throw new Error(`streaming list of ${rt.plural}: HTTP ${res.status}`);
  const reader = res.body.getReader();
  let bytes = 0;
  let tail = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        throw new Error(`streaming list of ${rt.plural} ended before its initial-events-end bookmark`);
      }
      bytes += value.byteLength;
      const text = tail + new TextDecoder().decode(value.subarray(Math.max(0, value.length - 1024)));
      if (text.includes(MARKER)) break;
      tail = text.slice(-MARKER.length);
    }
    return { ms: performance.now() - t0, bytes };
  } finally {
    ac.abort();
    await reader.cancel().catch(() => {});
  }
}
