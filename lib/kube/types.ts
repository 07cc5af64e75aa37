/**
 * The shapes the API client speaks: objects, lists, and the options of each verb.
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1";
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "../time/mod.ts";
import type { RetryPolicy } from "./retry.ts";

/** Any Kubernetes object. */
export interface KubeObject {
  /** Group and version, e.g. `apps/v1`. */
  apiVersion?: string;
  /** The kind, e.g. `Deployment`. */
  kind?: string;
  /** Name, namespace, labels, resourceVersion, ... */
  metadata?: ObjectMeta;
  /** Everything else: spec, status, data, ... */
  [field: string]: unknown;
}

/** The least an object must have to be written: kubernetes-types' interfaces satisfy it. */
export interface ObjectLike {
  /** Group and version, e.g. `apps/v1`. */
  apiVersion?: string;
  /** The kind, e.g. `Deployment`. */
  kind?: string;
  /** Name, namespace, labels, resourceVersion, ... */
  metadata?: ObjectMeta;
}

/** A list response. */
export interface ObjectList<T> {
  /** Group and version of the list. */
  apiVersion?: string;
  /** The list's kind, e.g. `ConfigMapList`. */
  kind?: string;
  /** The list's resourceVersion (to watch from), and the token of the next page when there is one. */
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  /** The objects of this page (never null, also for an empty metadata-only list). */
  items: T[];
}

/** Options shared by reads. */
export interface ReadOptions {
  /**
   * The namespace: required by `get` for a namespaced resource; for `list`, `listAll` and `watch`,
   * none means every namespace.
   */
  namespace?: string;
  /** Return PartialObjectMetadata (metadata only) instead of whole objects. */
  metadataOnly?: boolean;
  /** Aborts the request (and its retries). */
  signal?: AbortSignal;
}

/** Options of list and watch. */
export interface ListOptions extends ReadOptions {
  /** Only objects whose labels match, e.g. `app=web,tier!=cache`. */
  labelSelector?: string;
  /** Only objects whose fields match, e.g. `metadata.name=x`. */
  fieldSelector?: string;
  /** At most this many objects per page (`listAll`: the page size, default 500). */
  limit?: number;
  /** The token of the page to read, from the previous page's `metadata.continue`. */
  continue?: string;
  /** The version to list (or watch) from. */
  resourceVersion?: string;
  /** How `resourceVersion` is read: at least that new, or exactly that version. */
  resourceVersionMatch?: "NotOlderThan" | "Exact";
}

/** Options of watch. */
export interface WatchOptions extends ListOptions {
  /** Ask for BOOKMARK events, which carry the latest resourceVersion (default true). */
  allowWatchBookmarks?: boolean;
  /** Server-side timeout of the watch. */
  timeoutSeconds?: number;
  /** Start with the current objects as ADDED events, ended by a bookmark (a streaming list). */
  sendInitialEvents?: boolean;
  /** Abort when no bytes arrive for this long (default 3 minutes, about three bookmark intervals). */
  idleTimeoutMs?: number;
  /** Called once the server accepted the watch (2xx headers), before any event arrives. */
  onOpen?: () => void;
}

/** Options of writes. */
export interface WriteOptions {
  /**
   * The namespace of the object, required for a namespaced resource; create, replace and apply
   * take `metadata.namespace` when this is not set.
   */
  namespace?: string;
  /** Who owns the fields written (required by server-side apply). */
  fieldManager?: string;
  /** Validate and admit the write, but store nothing (`dryRun=All`). */
  dryRun?: boolean;
  /**
   * What the server does with unknown or duplicate fields: `Strict` refuses the write (400), so a
   * typo is reported instead of being pruned silently; the server's default is `Warn`.
   */
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  /** Aborts the request (and its retries). */
  signal?: AbortSignal;
}

/** The patch flavours the API server accepts. */
export type PatchType = "merge" | "json" | "strategic" | "apply";

/** Options of patch. */
export interface PatchOptions extends WriteOptions {
  /** The patch flavour (default `merge`; `strategic` only for built-in kinds). */
  type?: PatchType;
  /** Server-side apply: take over fields another manager owns instead of failing with a conflict. */
  force?: boolean;
  /** Patch a subresource, e.g. `status`. */
  subresource?: string;
}

/** Options of delete. */
export interface DeleteOptions extends WriteOptions {
  /** Delete only this incarnation (uid) or this version of the object; else a 409 Conflict. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** What happens to the object's dependents (the server's default depends on the kind). */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  /** Seconds before the object is deleted (0: at once). */
  gracePeriodSeconds?: number;
}

export type { RetryPolicy } from "./retry.ts";

/** Options of {@link KubeClient}. */
export interface KubeClientOptions {
  /**
   * The namespace of the kubeconfig context (or the pod), exposed as {@link KubeClient.namespace}
   * for callers that want it (default "default"). The client never applies it implicitly: a
   * namespaced object is addressed with an explicit namespace (docs/behaviour/client.md, "Scope").
   */
  namespace?: string;
  /** How transient failures are retried (defaults in retry.ts: 10 retries, 200 ms doubling to 10 s). */
  retry?: Partial<RetryPolicy>;
  /** Deadline of one attempt of a non-watch request, body included (default 60 s). */
  requestTimeoutMs?: number;
  /** Where `rest_client_*` metrics go (default: the process registry). */
  registry?: Registry;
  /** Times deadlines, backoff and latency (default: the real clock); tests pass a FakeClock. */
  clock?: Clock;
  /** Waits between retries (default `clock.sleep`); tests that ignore retry timing pass one that resolves at once. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The random source of the retry jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}
