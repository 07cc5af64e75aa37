/** Phases and messages as the Go operator words them; the status patch only when something changed. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { phaseFromDeployment, statusPatch } from "../../../lib/dataflow/status.ts";

const dep = (status: Record<string, number> | undefined, generation = 1) => ({
  metadata: { generation },
  status,
});

describe("status", () => {
  it("derives the phase from the Deployment", () => {
    const cases: [ReturnType<typeof dep> | undefined, string, string][] = [
      [undefined, "Pending", "Deployment not found"],
      [dep({ observedGeneration: 1, replicas: 1, readyReplicas: 1 }), "Running", "Processor pod is running"],
      [dep({ observedGeneration: 1, replicas: 1 }), "Pending", "Processor pod is starting"],
      [dep(undefined), "Pending", "Processor pod is starting"],
      [dep({ observedGeneration: 1 }, 2), "Pending", "Processor pod is starting"],
      [dep({ observedGeneration: 2 }, 2), "Error", "No replicas available"],
    ];
    for (const [d, phase, message] of cases) {
      const r = phaseFromDeployment(d as never);
      assert.deepEqual([r.phase, r.message], [phase, message], JSON.stringify(d));
    }
  });

  it("patches phase, message, observedGeneration and Ready; nothing when unchanged", () => {
    const t0 = new Date("2026-01-01T00:00:00Z"), t1 = new Date("2026-01-01T01:00:00Z");
    const running = {
      phase: "Running",
      message: "Processor pod is running",
      reason: "ProcessorRunning",
    } as const;
    const p = statusPatch({ processedCount: 5 }, running, 3, t0)!;
    assert.deepEqual(p, {
      phase: "Running",
      message: "Processor pod is running",
      observedGeneration: 3,
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "ProcessorRunning",
        message: "Processor pod is running",
        lastTransitionTime: t0.toISOString(),
        observedGeneration: 3,
      }],
    });
    assert.equal(statusPatch({ ...p, processedCount: 5 }, running, 3, t1), undefined);
    const next = statusPatch(p, running, 4, t1)!;
    assert.equal(next.conditions![0].lastTransitionTime, t0.toISOString(), "no flip: transition time kept");
    const err = statusPatch(p, { phase: "Error", message: "x", reason: "R" }, 4, t1)!;
    assert.equal(err.conditions![0].lastTransitionTime, t1.toISOString());
    assert.equal(err.conditions![0].status, "False");
  });
});
