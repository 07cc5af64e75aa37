/**
 * Least privilege, measured: what RBAC granted the operator's ServiceAccount against what it used
 * during the whole end-to-end run, from the API servers' audit logs. A grant no request used fails,
 * and so does any forbidden request. Run by `deno task test` after the end-to-end suites (which it
 * runs with DATAFLOW_AUDIT_DIR set, so every control plane keeps its audit log and RBAC snapshot
 * there); on its own it fails, saying so.
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  type AuditedRequest,
  authorises,
  forbidden,
  type Grant,
  grantKey,
  grantsOf,
  parseAuditLog,
} from "../e2e/audit.ts";

const SERVICE_ACCOUNT = "dataflow-system:dataflow-operator";
const USER = `system:serviceaccount:${SERVICE_ACCOUNT}`;

/**
 * Grants that no request can show, each with what proves it is needed instead. The harness's API
 * server runs the OwnerReferencesPermissionEnforcement admission plugin, which refuses to create
 * an object whose owner reference sets blockOwnerDeletion unless the user may update the owner's
 * finalizers: every successful create of an owned ConfigMap or Deployment used this grant.
 */
const CHECKED_BY_ADMISSION: Record<string, (requests: AuditedRequest[]) => boolean> = {
  "update dataflow.dataflow.io/dataflows/finalizers": (requests) =>
    requests.some((r) =>
      r.verb === "create" && /^(configmaps|deployments)$/.test(r.resource) && r.code === 201
    ),
  // The DataFlow, owned-ConfigMap and owned-Deployment informers fill their caches with a streaming list (a watch
  // with sendInitialEvents, one object at a time), which this API server serves; one that refuses
  // it (the WatchList feature off) gets paged LISTs instead (tests/unit/runtime/informer.test.ts,
  // "falls back"). The grant is needed where a watch of the kind was made.
  ...Object.fromEntries(
    ["dataflow.dataflow.io/dataflows", "core/configmaps", "apps/deployments"].map((kind) => [
      `list ${kind}`,
      (requests: AuditedRequest[]) =>
        requests.some((r) => r.verb === "watch" && r.resource === kind.split("/")[1] && r.code === 200),
    ]),
  ),
};

interface Run {
  name: string;
  requests: AuditedRequest[];
  grants: Grant[];
}

function runs(): Run[] {
  const dir = process.env.DATAFLOW_AUDIT_DIR;
  assert.ok(
    dir && existsSync(dir),
    "DATAFLOW_AUDIT_DIR is not set or missing: this test reads the audit logs of a full end-to-end run; " +
      "run it through `deno task test` (tests/run.ts)",
  );
  const out: Run[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".audit.log"))) {
    const base = f.slice(0, -".audit.log".length);
    const requests = parseAuditLog(readFileSync(join(dir, f), "utf8")).filter((r) => r.user === USER);
    const grants = grantsOf(readFileSync(join(dir, `${base}.rbac.json`), "utf8"), SERVICE_ACCOUNT);
    if (requests.length) out.push({ name: base, requests, grants });
  }
  return out;
}

it("every RBAC grant of the operator was used during the end-to-end run, and nothing was forbidden", () => {
  const all = runs();
  assert.ok(all.length >= 5, `expected the audit logs of the end-to-end control planes, found ${all.length}`);

  const denied = all.flatMap((r) => forbidden(r.requests).map((q) => `${r.name}: ${q.verb} ${q.uri}`));
  assert.deepEqual(denied, [], "forbidden requests of the operator");

  const used = new Set<string>();
  const granted = new Set<string>();
  const unexplained: string[] = [];
  for (const run of all) {
    // Only what the install grants must be used; the cluster's defaults for every authenticated user
    // (the start-up check's SelfSubjectReviews go through system:basic-user) only explain requests.
    for (const g of run.grants) if (g.own) granted.add(grantKey(g));
    for (const q of run.requests) {
      const matching = run.grants.filter((g) => authorises(g, q));
      if (!matching.length) unexplained.push(`${run.name}: ${q.verb} ${q.uri} (${q.code})`);
      for (const g of matching) used.add(grantKey(g));
    }
    for (const g of run.grants) {
      const byAdmission = CHECKED_BY_ADMISSION[`${g.verb} ${g.apiGroup || "core"}/${g.resource}`];
      if (byAdmission?.(run.requests)) used.add(grantKey(g));
    }
  }
  assert.deepEqual(unexplained, [], "allowed requests no grant explains (the snapshot is incomplete)");
  assert.ok(granted.size >= 20, `too few grants found (${granted.size}): the RBAC snapshots look empty`);
  const unused = [...granted].filter((k) => !used.has(k)).sort();
  assert.deepEqual(unused, [], "granted but never used during the end-to-end run: remove it or explain it");
});
