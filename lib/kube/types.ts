/**
 * The shapes the API client speaks: objects, lists, and the options of each verb.
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1";
import type { Registry } from "../observe/metrics.ts";

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** The least an object must have to be written: kubernetes-types' interfaces satisfy it. */
export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list response. */
export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** Options shared by reads. */
export interface ReadOptions {
  namespace?: string;
  /** Return PartialObjectMetadata (metadata only) instead of whole objects. */
  metadataOnly?: boolean;
  signal?: AbortSignal;
}

/** Options of list and watch. */
export interface ListOptions extends ReadOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "NotOlderThan" | "Exact";
}

/** Options of watch. */
export interface WatchOptions extends ListOptions {
  allowWatchBookmarks?: boolean;
  /** Server-side timeout of the watch. */
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  /** Abort when no bytes arrive for this long (default 3 minutes, about three bookmark intervals). */
  idleTimeoutMs?: number;
  /** Called once the server accepted the watch (2xx headers), before any event arrives. */
  onOpen?: () => void;
}

/** Options of writes. */
export interface WriteOptions {
  namespace?: string;
  fieldManager?: string;
  dryRun?: boolean;
  /**
   * What the server does with unknown or duplicate fields: `Strict` refuses the write (400), so a
   * typo is reported instead of being pruned silently; the server's default is `Warn`.
   */
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  signal?: AbortSignal;
}

/** The patch flavours the API server accepts. */
export type PatchType = "merge" | "json" | "strategic" | "apply";

/** Options of patch. */
export interface PatchOptions extends WriteOptions {
  type?: PatchType;
  force?: boolean;
  subresource?: string;
}

/** Options of delete. */
export interface DeleteOptions extends WriteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  gracePeriodSeconds?: number;
}

/** How idempotent requests are retried. */
export interface RetryPolicy {
  /** Attempts after the first (default 10, like client-go). */
  maxRetries: number;
  /** First backoff (default 200 ms), doubled per attempt with full jitter. */
  baseDelayMs: number;
  /** Cap of one backoff (default 10 s); a longer Retry-After is still honoured up to 60 s. */
  maxDelayMs: number;
}

/** Options of {@link KubeClient}. */
export interface KubeClientOptions {
  /** The namespace used when a namespaced call names none (from the kubeconfig context). */
  namespace?: string;
  retry?: Partial<RetryPolicy>;
  /** Deadline of one non-watch request (default 60 s). */
  requestTimeoutMs?: number;
  /** Where `rest_client_*` metrics go (default: the process registry). */
  registry?: Registry;
  /** Waits between retries; tests pass a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Sleeps, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
