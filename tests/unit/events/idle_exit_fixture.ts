/**
 * Run as a child process by unref.test.ts: arms the recorder's 30 s update timer and its budget
 * timers, then ends its main module. The process must exit at once: the timers are unref'd.
 */
import { EventRecorder } from "../../../lib/events/mod.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";

const transport = {
  server: "https://fake",
  request: () => Promise.resolve(new Response("{}", { status: 201 })),
  close: () => {},
};
const r = new EventRecorder(new KubeClient(transport, { registry: new Registry() }), {
  component: "c",
  registry: new Registry(),
});
const obj = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "n", uid: "u" } };
r.warn(obj, "R", "x");
await new Promise((res) => setTimeout(res, 50)); // the create is written
r.warn(obj, "R", "x"); // the count update now waits 30 s on a timer
console.log(`armed, pending=${r.queueDepth}`);
