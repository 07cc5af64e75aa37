/**
 * What the console knows about the operator itself: the leader (its Lease) and, from the
 * operator's /metrics, the work queue, reconciles and their errors, and the Event recorder's
 * counters. Rates come from the difference between this read and an earlier one the console kept
 * (the console reads /metrics only when someone opens the page), or, for a first read, from the
 * operator's start time when it exports one.
 */
import type { Lease } from "kubernetes-types/coordination/v1";
import { builtin, type KubeClient } from "../kube/mod.ts";
import { settle, type Settled } from "./format.ts";
import { parsePrometheusText, type Sample, sum, sumBy } from "./prometheus.ts";

/** The Lease as the page shows it. */
export interface LeaseInfo {
  holder?: string;
  acquireTime?: string;
  renewTime?: string;
  durationSeconds?: number;
  transitions?: number;
  /** The holder has not renewed within the lease duration (it is gone, or the operator stopped). */
  expired: boolean;
}

/** The operator's metrics, condensed. */
export interface MetricsView {
  /** Items waiting in the work queues (the leader's; a standby's queue stays empty). */
  queueDepth?: number;
  activeWorkers?: number;
  /** 1 when the replica that answered holds the Lease. */
  leader?: number;
  /** Reconciles by result (`success`, `error`, `requeue`, `requeue_after`). */
  reconciles: Record<string, number>;
  reconcileErrors?: number;
  /** Reconciles and errors per second, and over how long (undefined until two reads). */
  rate?: { reconciles: number; errors: number; windowSeconds: number; since: "previous read" | "start" };
  events: {
    emitted: Record<string, number>;
    written: Record<string, number>;
    coalesced?: number;
    dropped: Record<string, number>;
    apiErrors: Record<string, number>;
    queueDepth?: number;
  };
  /** DataFlows by phase, as the operator counts them (`dataflow_status`). */
  dataflows: Record<string, number>;
}

/** Everything the operator page shows. */
export interface OperatorView {
  leaseRef: string;
  lease: Settled<LeaseInfo | null>;
  metricsUrl?: string;
  metrics?: Settled<MetricsView>;
}

interface Point {
  at: number;
  total: number;
  errors: number;
}

/** Condenses one scrape (exported for tests). */
export function condense(samples: Sample[]): MetricsView {
  const reconciles = sumBy(samples, "controller_runtime_reconcile_total", "result");
  return {
    queueDepth: sum(samples, "workqueue_depth"),
    activeWorkers: sum(samples, "controller_runtime_active_workers"),
    leader: sum(samples, "leader_election_master_status"),
    reconciles,
    reconcileErrors: sum(samples, "controller_runtime_reconcile_errors_total"),
    events: {
      emitted: sumBy(samples, "events_emitted_total", "type"),
      written: sumBy(samples, "events_written_total", "verb"),
      coalesced: sum(samples, "events_coalesced_total"),
      dropped: sumBy(samples, "events_dropped_total", "reason"),
      apiErrors: sumBy(samples, "events_api_errors_total", "code"),
      queueDepth: sum(samples, "events_queue_depth"),
    },
    dataflows: sumBy(samples.filter((s) => s.value > 0), "dataflow_status", "phase"),
  };
}

/** Reads the Lease and the metrics, and keeps the earlier reads for rates. */
export class OperatorStatus {
  #client: KubeClient;
  #leaseNamespace: string;
  #leaseName: string;
  #metricsUrl?: string;
  #points: Point[] = [];
  #now: () => number;

  constructor(options: {
    client: KubeClient;
    leaseNamespace: string;
    leaseName: string;
    /** The operator's /metrics URL; undefined: not shown. */
    metricsUrl?: string;
    now?: () => number;
  }) {
    this.#client = options.client;
    this.#leaseNamespace = options.leaseNamespace;
    this.#leaseName = options.leaseName;
    this.#metricsUrl = options.metricsUrl;
    this.#now = options.now ?? Date.now;
  }

  /** Reads both, each on its own (one failing does not hide the other). */
  async read(): Promise<OperatorView> {
    const [lease, metrics] = await Promise.all([
      settle(this.#lease()),
      this.#metricsUrl ? settle(this.#metrics(this.#metricsUrl)) : Promise.resolve(undefined),
    ]);
    return {
      leaseRef: `${this.#leaseNamespace}/${this.#leaseName}`,
      lease,
      metricsUrl: this.#metricsUrl,
      metrics,
    };
  }

  async #lease(): Promise<LeaseInfo | null> {
    let lease: Lease;
    try {
      lease = await this.#client.get<Lease>(builtin.Lease, this.#leaseName, {
        namespace: this.#leaseNamespace,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
    const s = lease.spec ?? {};
    const renewed = s.renewTime ? Date.parse(s.renewTime) : NaN;
    const duration = s.leaseDurationSeconds;
    return {
      holder: s.holderIdentity || undefined,
      acquireTime: s.acquireTime,
      renewTime: s.renewTime,
      durationSeconds: duration,
      transitions: s.leaseTransitions,
      expired: !s.holderIdentity || Number.isNaN(renewed) || duration === undefined ||
        this.#now() - renewed > duration * 1000,
    };
  }

  async #metrics(url: string): Promise<MetricsView> {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000), headers: { Accept: "text/plain" } });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${url} answered HTTP ${res.status}`);
    }
    const samples = parsePrometheusText(await res.text());
    const view = condense(samples);
    const now = this.#now();
    const total = Object.values(view.reconciles).reduce((a, b) => a + b, 0);
    const point = { at: now, total, errors: view.reconcileErrors ?? 0 };
    // A counter that went down: the operator restarted; earlier reads say nothing about now.
    if (this.#points.some((p) => p.total > total)) this.#points = [];
    const base = this.#points.find((p) => now - p.at >= 5_000 && now - p.at <= 600_000);
    const started = sum(samples, "process_start_time_seconds");
    if (base) {
      const dt = (now - base.at) / 1000;
      view.rate = {
        reconciles: (total - base.total) / dt,
        errors: (point.errors - base.errors) / dt,
        windowSeconds: dt,
        since: "previous read",
      };
    } else if (started && now / 1000 - started > 1) {
      const dt = now / 1000 - started;
      view.rate = { reconciles: total / dt, errors: point.errors / dt, windowSeconds: dt, since: "start" };
    }
    this.#points = [...this.#points.filter((p) => now - p.at <= 600_000), point].slice(-30);
    return view;
  }
}
