/**
 * A benchmark-only operator entry point: the shipped operator (createOperator, the same wiring as
 * `mod.ts run`) with N reconcile workers instead of the default 1, which the CLI does not expose.
 * It exists to measure what more workers would buy (benchmark 1); it is not a shipped setting.
 * Accepts the `run` flags the benchmarks pass: --kubeconfig, --namespace, --metrics-bind-address,
 * --health-probe-bind-address, --leader-elect=false. Workers from BENCH_WORKERS (default 16).
 *
 *   bun bench/tools/operator-workers.ts run --kubeconfig=<file> --namespace=<ns> --leader-elect=false ...
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { connect } from "../../lib/kube/config.ts";
import { configureLogging } from "../../lib/observe/log.ts";
import { processorSettingsFromEnv } from "../../lib/dataflow/cli.ts";
import { createOperator } from "../../lib/dataflow/controller.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "metrics-bind-address": { type: "string", default: ":9090" },
    "health-probe-bind-address": { type: "string", default: ":9091" },
    "leader-elect": { type: "string", default: "false" },
  },
});
if (values["leader-elect"] !== "false") {
  throw new Error("operator-workers.ts runs without leader election only");
}
configureLogging({ level: process.env.LOG_LEVEL });
const conn = await connect({ kubeconfig: values.kubeconfig, env: process.env });
const operator = createOperator({
  client: conn.client,
  namespace: values.namespace,
  processor: processorSettingsFromEnv(process.env),
  leaderElection: false,
  metricsBindAddress: values["metrics-bind-address"],
  healthBindAddress: values["health-probe-bind-address"],
  concurrency: Number(process.env.BENCH_WORKERS ?? 16),
});
const code = await operator.manager.run();
conn.close();
process.exit(code);
