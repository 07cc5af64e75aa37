/**
 * One write of a series to the API server: a create (the full body, checked against the server's
 * rules first) or a merge patch of its count; the bookkeeping of a success; and, on a failure,
 * the window's reaction and the series' retry, rename, re-create or drop (failures.ts).
 */
import type { KubeClient } from "../kube/client.ts";
import { ApiError, ConnectionError, ServerError, TooManyRequestsError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import type { Clock } from "../time/clock.ts";
import { applyFailure, classifyFailure } from "./failures.ts";
import type { WriteLimiter, WriteTicket } from "./limiter.ts";
import type { DropReason, EventMetrics } from "./metrics.ts";
import { describeRef } from "./reference.ts";
import { createBody, type Series, updatePatch, wallStamp } from "./series.ts";
import type { RecorderSettings, Reporter } from "./settings.ts";
import { validateEventBody } from "./validate.ts";

const log = logger("events");

/** What every write of the recorder is made with (the writer's and each delivery's). */
export interface WriteContext {
  /** The client the Events are written with. */
  client: KubeClient;
  /** The Event resource written (core/v1 or events.k8s.io/v1). */
  eventType: ResourceType;
  /** Who reports the Events. */
  reporter: Reporter;
  /** The recorder's settings. */
  settings: RecorderSettings;
  /** Monotonic time for retries and windows; wall time for the Events' stamps. */
  clock: Clock;
  /** The jitter's random source. */
  random: () => number;
  /** The recorder's metrics. */
  metrics: EventMetrics;
  /** The adaptive limit on concurrent writes. */
  limiter: WriteLimiter;
  /** A fresh unique Event name for the series' object. */
  newName(s: Series): string;
}

/** What a delivery needs. */
export interface DeliveryDeps extends WriteContext {
  /** Aborts every request in flight (at the end of the shutdown flush). */
  signal: AbortSignal;
  /** Writes in flight now, this one included (the window grows only while half of it is used). */
  inFlight(): number;
  /** Drops the series' unwritten occurrences, counted under `reason`. */
  drop(s: Series, reason: DropReason): void;
}

/** Sends the writes of series. */
export class Delivery {
  readonly #d: DeliveryDeps;
  /** Failures already logged loudly, by reason and namespace. */
  readonly #logged = new Set<string>();

  constructor(deps: DeliveryDeps) {
    this.#d = deps;
  }

  /**
   * Writes `s` (a create when its Event does not exist yet, else a count update; a count update
   * that finds the Event gone re-creates it at once) and returns whether a write succeeded.
   * Never throws for an API failure: it is handled on the series.
   */
  async send(s: Series, ticket: WriteTicket): Promise<boolean> {
    const d = this.#d;
    for (let hop = 0; hop < 2; hop++) {
      const creating = !s.created;
      const sentCount = s.count;
      const sentMessage = s.message;
      s.sendingCount = sentCount;
      s.lastWriteAt = d.clock.now();
      if (hop > 0) ticket = d.limiter.begin();
      try {
        if (creating) {
          const body = createBody(s, d.reporter, wallStamp(d.clock));
          const problems = validateEventBody(body);
          if (problems.length > 0) {
            // Normalization should make this impossible; never send what the server would refuse.
            log.error("not sending an invalid Event for {object}: {problems}", {
              object: describeRef(s.ref),
              problems: problems.join("; "),
            });
            d.drop(s, "invalid");
            return false;
          }
          await d.client.create(d.eventType, body, { namespace: s.namespace, signal: d.signal });
          s.created = true;
        } else {
          await d.client.patch(d.eventType, s.name, updatePatch(s, wallStamp(d.clock)), {
            namespace: s.namespace,
            type: "merge",
            signal: d.signal,
          });
        }
        this.#written(s, ticket, creating, sentCount, sentMessage);
        return true;
      } catch (err) {
        if (d.signal.aborted) return false; // abandoned by close(); counted there
        if (err instanceof ApiError) d.metrics.apiErrors.inc({ code: String(err.code) });
        s.nextPendingSince = undefined;
        if (
          err instanceof TooManyRequestsError || err instanceof ServerError || err instanceof ConnectionError
        ) {
          // The API server is overloaded (or unreachable): fewer writes at once, and a pause if it asked.
          d.limiter.overload(
            ticket,
            err instanceof TooManyRequestsError ? "throttled" : "server_error",
            (err.retryAfterSeconds ?? 0) * 1000,
          );
        }
        const action = classifyFailure(err, creating, s.unansweredCreate);
        if (action.kind === "recreate" && hop === 0) {
          // The Event expired (the one-hour TTL) or was deleted: re-create it with the whole count.
          log.debug("Event {namespace}/{name} is gone; re-creating it", {
            namespace: s.namespace,
            name: s.name,
          });
          s.created = false;
          s.serverCount = 0;
          s.name = d.newName(s);
          continue;
        }
        applyFailure(s, err, creating, action, {
          now: d.clock.now(),
          settings: d.settings,
          random: d.random,
          newName: d.newName,
          drop: d.drop,
          firstInNamespace: (key) => this.#firstTime(key),
        });
        return false;
      }
    }
    return false;
  }

  /** Books a successful write: the server now has `sentCount` and `sentMessage`. */
  #written(s: Series, ticket: WriteTicket, creating: boolean, sentCount: number, sentMessage: string): void {
    const d = this.#d;
    d.metrics.written.inc({ verb: creating ? "create" : "patch" });
    const now = d.clock.now();
    d.limiter.success(ticket, d.inFlight());
    const baseline = d.limiter.baselineMs;
    if (baseline !== undefined) d.metrics.baseline.set({}, baseline / 1000);
    if (sentCount > s.serverCount) {
      d.metrics.deliveryLag.observe({}, Math.max(0, now - s.pendingSince) / 1000);
      // Occurrences emitted while this write was in flight are the oldest unwritten ones now.
      if (s.count > sentCount) s.pendingSince = s.nextPendingSince ?? s.lastWriteAt;
    }
    s.nextPendingSince = undefined;
    s.serverCount = sentCount;
    s.serverMessage = sentMessage;
    s.attempt = 0;
    s.failingSince = undefined;
    s.unansweredCreate = false;
    log.debug("Wrote Kubernetes event {verb} {namespace}/{name} count={count}", {
      verb: creating ? "create" : "patch",
      namespace: s.namespace,
      name: s.name,
      count: sentCount,
    });
  }

  /** True the first time `key` (a failure reason and namespace) is seen: such failures are logged loudly once. */
  #firstTime(key: string): boolean {
    if (this.#logged.size > 10_000) this.#logged.clear();
    const first = !this.#logged.has(key);
    this.#logged.add(key);
    return first;
  }
}
