/**
 * A minimal operator process for the leader-election tests: a Manager with a Lease, one
 * controller over the ConfigMaps labelled `runtime-test=work` in RT_NAMESPACE, whose reconcile
 * writes (through the manager's fenced client) the ConfigMap `ledger-<name>` with its identity.
 * It prints one JSON line per fact on stdout: started, leading, not-leading, holder (the Lease
 * holder its elector last saw), signal (a SIGTERM or SIGINT arrived; the manager's handler sees it
 * in the same dispatch), reconcile-start and reconcile-end (with RT_RECONCILE_SLEEP_MS, a slow
 * reconcile), write, write-ok, write-failed, exit. It exits with the manager's exit code, and on
 * its own when its parent dies.
 */
import process from "node:process";
import { connect } from "../../../lib/kube/config.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Controller } from "../../../lib/runtime/controller.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import { Manager } from "../../../lib/runtime/manager.ts";

const env = process.env;
const identity = env.RT_IDENTITY ?? "child";
const namespace = env.RT_NAMESPACE!;
const say = (ev: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(JSON.stringify({ ev, at: Date.now(), identity, ...extra }) + "\n");

configureLogging({ level: env.LOG_LEVEL ?? "info", format: "json" });
const conn = await connect({ kubeconfig: env.RT_KUBECONFIG });
const mgr = new Manager({
  client: conn.client,
  name: identity,
  leaderElection: {
    namespace,
    leaseName: env.RT_LEASE ?? "runtime-test",
    identity,
    leaseDurationMs: Number(env.RT_LEASE_MS ?? 15_000),
    renewDeadlineMs: Number(env.RT_RENEW_MS ?? 10_000),
    retryPeriodMs: Number(env.RT_RETRY_MS ?? 2_000),
  },
  healthBindAddress: "127.0.0.1:0",
  metricsBindAddress: "127.0.0.1:0",
  shutdownTimeoutMs: Number(env.RT_SHUTDOWN_MS ?? 5_000),
});
const work = new Informer(conn.client, builtin.ConfigMap, { namespace, labelSelector: "runtime-test=work" });
const controller = new Controller({
  name: "ledger",
  reconcile: async (ctx) => {
    const slow = Number(env.RT_RECONCILE_SLEEP_MS ?? 0);
    if (slow > 0) {
      say("reconcile-start", { key: ctx.key });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, slow);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        }, { once: true });
      });
      say("reconcile-end", { key: ctx.key });
    }
    say("write", { key: ctx.key });
    try {
      await mgr.client.patch(builtin.ConfigMap, `ledger-${ctx.name}`, {
        data: { writer: identity, at: String(Date.now()) },
      }, {
        namespace,
        signal: ctx.signal,
      });
      say("write-ok", { key: ctx.key });
    } catch (err) {
      say("write-failed", { key: ctx.key, error: (err as Error).message });
      throw err;
    }
    return { requeueAfterMs: Number(env.RT_REQUEUE_MS ?? 200) };
  },
}).for(work);
mgr.addController(controller);

let leading = false;
let holder: string | undefined;
const watchLeadership = setInterval(() => {
  if (mgr.isLeader() !== leading) {
    leading = !leading;
    say(leading ? "leading" : "not-leading");
  }
  if (mgr.elector?.leader !== holder) {
    holder = mgr.elector?.leader;
    say("holder", { holder });
  }
}, 5);
const parent = Number(env.RT_PARENT_PID ?? 0);
const orphanCheck = setInterval(() => {
  try {
    if (parent) process.kill(parent, 0);
  } catch {
    process.exit(3);
  }
}, 1_000);
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => say("signal", { signal }));
say("started", { pid: process.pid });
const code = await mgr.run();
clearInterval(watchLeadership);
clearInterval(orphanCheck);
if (leading) say("not-leading");
say("exit", { code });
process.exit(code);
