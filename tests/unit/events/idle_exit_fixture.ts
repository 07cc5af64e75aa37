/**
 * Run as a child process by unref.test.ts: arms the recorder's count-update timer (an hour away)
 * on its default clock, then ends its main module. The process must exit at once: the recorder's
 * timers never keep it alive.
 */
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";

let created!: () => void;
const written = new Promise<void>((resolve) => created = resolve);
const transport = {
  server: "https://fake",
  request: () => {
    queueMicrotask(created);
    return Promise.resolve(new Response("{}", { status: 201 }));
  },
  close: () => {},
};
const r = new EventRecorder(new KubeClient(transport, { registry: new Registry() }), {
  component: "c",
  registry: new Registry(),
  updateIntervalMs: 3_600_000,
});
const obj = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "n", uid: "u" } };
r.warn(obj, "R", "x");
await written;
// Wait for the create's answer to be booked (a condition, polled once per event-loop turn).
while (r.queueDepth > 0) await new Promise((resolve) => setTimeout(resolve, 0));
r.warn(obj, "R", "x"); // the count update now waits an hour on a timer
console.log(`armed, pending=${r.queueDepth}`);
