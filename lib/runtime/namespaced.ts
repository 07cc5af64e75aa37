/**
 * A cache over a list of namespaces: one informer per namespace (as controller-runtime's
 * multi-namespace cache), read as one. With no list, one informer watches every namespace. This
 * is what lets an operator run with RBAC granted only in the namespaces it watches.
 */
import type { KubeObject } from "../kube/client.ts";
import type { Informer } from "./informer.ts";

/** One informer per watched namespace (or one for all), read as one cache. */
export class NamespacedInformers<T extends KubeObject = KubeObject> {
  /** The informers, one per namespace (or a single one for all namespaces). */
  readonly informers: readonly Informer<T>[];
  #byNamespace = new Map<string, Informer<T>>();
  #all?: Informer<T>;

  /**
   * One informer per namespace, or one for all namespaces.
   * @param namespaces the namespaces to watch; undefined or empty: all namespaces
   * @param make builds the informer of one namespace (undefined: all namespaces)
   */
  constructor(
    namespaces: readonly string[] | undefined,
    make: (namespace: string | undefined) => Informer<T>,
  ) {
    if (!namespaces?.length) {
      this.#all = make(undefined);
      this.informers = [this.#all];
      return;
    }
    for (const ns of new Set(namespaces)) this.#byNamespace.set(ns, make(ns));
    this.informers = [...this.#byNamespace.values()];
  }

  /** The informer holding objects of `namespace`, if that namespace is watched. */
  #of(namespace: string): Informer<T> | undefined {
    return this.#all ?? this.#byNamespace.get(namespace);
  }

  /** The cached object with key `namespace/name` (undefined when absent or not watched). */
  get(key: string): T | undefined {
    const slash = key.indexOf("/");
    return this.#of(slash < 0 ? "" : key.slice(0, slash))?.get(key);
  }

  /** Every cached object of every watched namespace. */
  list(): T[] {
    return this.informers.flatMap((i) => i.list());
  }

  /** The cached objects of one namespace ([] when it is not watched). */
  inNamespace(namespace: string): T[] {
    return this.#of(namespace)?.byIndex("namespace", namespace) ?? [];
  }
}
