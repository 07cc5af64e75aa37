/**
 * Live updates: the console's watch of DataFlows (informers) fanned out to the open pages over
 * Server-Sent Events. A list page gets `upsert`/`remove` of rendered rows that pass its filter; a
 * DataFlow's page gets `replace` of its status section and `gone` when it is deleted. A new or
 * reconnected stream first gets every current row and a `sync` with the ids that exist, so
 * nothing that changed between the page's render and the stream's start is missed.
 */
import type { ServerResponse } from "node:http";
import type { DataFlow } from "../dataflow/schema.ts";
import { logger } from "../observe/mod.ts";
import type { InformerHandlers } from "../runtime/mod.ts";
import { rowId } from "./format.ts";
import type { Html } from "./html.ts";
import { type ListFilter, matches, renderRow, sorted, sortKey } from "./list-page.ts";

const log = logger("console", "live");

/** The DataFlow cache the hub reads (NamespacedInformers or a test double). */
export interface DataFlowSource {
  list(): DataFlow[];
  get(key: string): DataFlow | undefined;
}

/** One Server-Sent Event. */
export interface LiveMessage {
  event: "upsert" | "remove" | "sync" | "replace" | "gone";
  data: unknown;
}

type Subscriber =
  | { kind: "list"; filter: ListFilter; send: (m: LiveMessage) => void }
  | { kind: "detail"; key: string; send: (m: LiveMessage) => void };

const keyOf = (df: DataFlow) => `${df.metadata.namespace ?? ""}/${df.metadata.name}`;

/** Fans DataFlow changes out to subscribers. */
export class LiveHub {
  #subscribers = new Set<Subscriber>();
  #source: DataFlowSource;
  #renderStatus: (df: DataFlow) => Html;

  /**
   * @param source the cache to read snapshots from
   * @param renderStatus the status section of a DataFlow's page (element id `status`)
   */
  constructor(source: DataFlowSource, renderStatus: (df: DataFlow) => Html) {
    this.#source = source;
    this.#renderStatus = renderStatus;
  }

  /** Handlers to register on each DataFlow informer. */
  handlers(): InformerHandlers<DataFlow> {
    return {
      // Also the first list's objects: a page may have subscribed before the cache filled.
      add: (df, initial) => this.#changed(undefined, df, initial),
      update: (old, df) => {
        if (old.metadata.resourceVersion !== df.metadata.resourceVersion) this.#changed(old, df);
      },
      delete: (df) => this.#deleted(df),
    };
  }

  /** Number of open streams. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Follows the list with a filter; returns the unsubscribe function. */
  subscribeList(filter: ListFilter, send: (m: LiveMessage) => void): () => void {
    const sub: Subscriber = { kind: "list", filter, send };
    const rows = sorted(this.#source.list().filter((df) => matches(df, filter)));
    for (const df of rows) send(this.#upsert(df, true));
    send({
      event: "sync",
      data: { ids: rows.map((df) => rowId(df.metadata.namespace ?? "", df.metadata.name)) },
    });
    this.#subscribers.add(sub);
    return () => this.#subscribers.delete(sub);
  }

  /** Follows one DataFlow (`namespace/name`); returns the unsubscribe function. */
  subscribeDetail(key: string, send: (m: LiveMessage) => void): () => void {
    const sub: Subscriber = { kind: "detail", key, send };
    const df = this.#source.get(key);
    if (df) send(this.#replace(df));
    else send({ event: "gone", data: { message: `DataFlow ${key} does not exist (any more).` } });
    this.#subscribers.add(sub);
    return () => this.#subscribers.delete(sub);
  }

  /** `initial`: part of a new stream's snapshot (the page already shows it: no highlight). */
  #upsert(df: DataFlow, initial = false): LiveMessage {
    return {
      event: "upsert",
      data: {
        id: rowId(df.metadata.namespace ?? "", df.metadata.name),
        sort: sortKey(df),
        html: renderRow(df).value,
        ...(initial ? { initial: true } : {}),
      },
    };
  }

  #replace(df: DataFlow): LiveMessage {
    return { event: "replace", data: { id: "status", html: this.#renderStatus(df).value } };
  }

  #changed(old: DataFlow | undefined, df: DataFlow, initial = false): void {
    for (const sub of this.#subscribers) {
      this.#deliver(sub, () => {
        if (sub.kind === "detail") return sub.key === keyOf(df) ? this.#replace(df) : undefined;
        if (matches(df, sub.filter)) return this.#upsert(df, initial);
        if (old && matches(old, sub.filter)) return this.#remove(df);
      });
    }
  }

  #deleted(df: DataFlow): void {
    for (const sub of this.#subscribers) {
      this.#deliver(sub, () => {
        if (sub.kind === "detail") {
          return sub.key === keyOf(df)
            ? { event: "gone", data: { message: `DataFlow ${keyOf(df)} was deleted.` } }
            : undefined;
        }
        return matches(df, sub.filter) ? this.#remove(df) : undefined;
      });
    }
  }

  #remove(df: DataFlow): LiveMessage {
    return { event: "remove", data: { id: rowId(df.metadata.namespace ?? "", df.metadata.name) } };
  }

  #deliver(sub: Subscriber, make: () => LiveMessage | undefined): void {
    try {
      const m = make();
      if (m) sub.send(m);
    } catch (err) {
      log.warning("a live update failed: {error}", { error: (err as Error).message });
    }
  }
}

/** Writes one event in the text/event-stream format (JSON data has no raw newlines). */
export function writeEvent(res: ServerResponse, m: LiveMessage): void {
  res.write(`event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
}

/**
 * Serves one stream until the client goes: headers, the subscription's first messages, a comment
 * every `heartbeatMs` (so proxies keep the connection open), and unsubscribe on close.
 */
export function serveStream(
  res: ServerResponse,
  headers: Record<string, string>,
  subscribe: (send: (m: LiveMessage) => void) => () => void,
  heartbeatMs = 20_000,
): void {
  res.writeHead(200, {
    ...headers,
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
  });
  res.write("retry: 2000\n\n");
  const unsubscribe = subscribe((m) => writeEvent(res, m));
  const beat = setInterval(() => res.write(": ping\n\n"), heartbeatMs);
  const close = () => {
    clearInterval(beat);
    unsubscribe();
  };
  res.on("close", close);
  res.on("error", close);
}
