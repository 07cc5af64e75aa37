/**
 * The console's routes: the pages, the live stream, and (writes enabled) the forms. Every read
 * uses the console's own client; every write the identity of identity.ts, behind a same-origin
 * check and the session's CSRF token.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeClient } from "../kube/mod.ts";
import type { DataFlow } from "../dataflow/schema.ts";
import { logger } from "../observe/mod.ts";
import { editableYaml, loadDetail, renderDeletePage, renderDetailPage } from "./detail-page.ts";
import { dataflowPath, errorText } from "./format.ts";
import { newDataFlowYaml, renderFormPage } from "./form-page.ts";
import { html } from "./html.ts";
import { ASSETS, BadForm, readForm, redirect, SECURITY_HEADERS, send, serveAsset } from "./http.ts";
import { clientForToken, whoAmI, type WriteIdentity } from "./identity.ts";
import { canWrite, csrfField, errorPage, type Flash, renderPage, type Viewer } from "./layout.ts";
import { filterFrom, renderListPage } from "./list-page.ts";
import { type DataFlowSource, type LiveHub, serveStream } from "./live.ts";
import { readProcessorLog, renderLogsPage } from "./logs-page.ts";
import type { OperatorStatus } from "./operator-status.ts";
import { renderOperatorPage } from "./operator-page.ts";
import { sameOrigin, type Session, Sessions } from "./sessions.ts";
import { createDataFlow, deleteDataFlow, type FieldError, updateDataFlow } from "./writes.ts";

const log = logger("console", "app");

/** The DataFlow cache as the app reads it. */
export interface DataFlowCache extends DataFlowSource {
  /** True once every informer has its first list. */
  synced(): boolean;
  /** The namespaces to offer in the filter (the watched ones, or those with DataFlows). */
  namespaces(): string[];
}

/** What the app is built from. */
export interface AppOptions {
  client: KubeClient;
  dataflows: DataFlowCache;
  hub: LiveHub;
  operator: OperatorStatus;
  identity: WriteIdentity;
}

const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** Open live streams the console serves at once (each is an open connection and a subscription). */
const MAX_STREAMS = 1000;

/** The console's request handler. */
export class ConsoleApp {
  readonly sessions = new Sessions();
  #o: AppOptions;

  constructor(options: AppOptions) {
    this.#o = options;
  }

  /** Handles one request. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      return send(res, 405, "method not allowed\n", "text/plain; charset=utf-8", {
        Allow: "GET, HEAD, POST",
      });
    }
    const path = url.pathname;
    if (path === "/healthz") return send(res, 200, "ok\n", "text/plain; charset=utf-8");
    if (path === "/readyz") {
      const ok = this.#o.dataflows.synced();
      return send(
        res,
        ok ? 200 : 503,
        ok ? "ok\n" : "DataFlows not listed yet\n",
        "text/plain; charset=utf-8",
      );
    }
    const asset = ASSETS[path];
    if (asset && method !== "POST") return serveAsset(req, res, asset);
    if (path === "/favicon.ico") return redirect(res, "/static/favicon.svg");

    const writes = this.#o.identity.mode !== "off";
    const session = writes ? this.sessions.ensure(req, res) : undefined;
    const viewer = this.#viewer(session);
    if (method === "POST") {
      if (!writes) return send(res, 404, errorPage(viewer, "Not found", "This console is read-only."));
      if (!sameOrigin(req)) {
        return send(
          res,
          403,
          errorPage(viewer, "Refused", "This form was not sent from the console's own pages."),
        );
      }
      let form: URLSearchParams;
      try {
        form = await readForm(req);
      } catch (err) {
        const status = err instanceof BadForm ? err.status : 400;
        return send(res, status, errorPage(viewer, "Refused", errorText(err)));
      }
      if (!this.sessions.csrfOk(session, form.get("_csrf") ?? undefined)) {
        return send(
          res,
          403,
          errorPage(
            viewer,
            "Refused",
            "This form is stale (or came from elsewhere): reload the page and try again.",
          ),
        );
      }
      return await this.#post(path, form, session!, viewer, res);
    }

    if (path === "/") return this.#list(url, viewer, res);
    if (path === "/api/stream") return this.#stream(url, res);
    if (path === "/operator") {
      return send(res, 200, renderOperatorPage(viewer, await this.#o.operator.read()));
    }
    if (path === "/login") return this.#loginPage(viewer, url.searchParams.get("next") ?? "/", res);
    if (path === "/new") {
      if (!writes) return send(res, 404, errorPage(viewer, "Not found", "This console is read-only."));
      if (!canWrite(viewer)) return redirect(res, `/login?next=${encodeURIComponent(path + url.search)}`);
      const ns = url.searchParams.get("namespace") ?? undefined;
      return send(res, 200, renderFormPage({ viewer, mode: "create", text: newDataFlowYaml(ns) }));
    }
    const m = /^\/dataflows\/([^/]+)\/([^/]+)(\/(edit|delete|logs))?$/.exec(path);
    if (m) {
      return await this.#dataflowGet(
        decodeURIComponent(m[1]),
        decodeURIComponent(m[2]),
        m[4],
        url,
        viewer,
        res,
      );
    }
    send(res, 404, errorPage(viewer, "Not found", `Nothing at ${path}.`));
  }

  #viewer(session: Session | undefined): Viewer {
    const identity = this.#o.identity;
    if (identity.mode === "off") return { writes: "off" };
    if (identity.mode === "kubeconfig") {
      return { writes: "kubeconfig", user: identity.user, csrf: session?.csrf };
    }
    return { writes: "token", user: session?.user, csrf: session?.csrf };
  }

  #list(url: URL, viewer: Viewer, res: ServerResponse): void {
    const deleted = url.searchParams.get("deleted");
    const flash: Flash | undefined = deleted && /^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(deleted)
      ? { kind: "ok", text: `Deleted ${deleted}: the operator removes its ConfigMap and Deployment first.` }
      : undefined;
    send(
      res,
      200,
      renderListPage({
        viewer,
        items: this.#o.dataflows.list(),
        filter: filterFrom(url.searchParams),
        namespaces: this.#o.dataflows.namespaces(),
        synced: this.#o.dataflows.synced(),
        flash,
      }),
    );
  }

  #stream(url: URL, res: ServerResponse): void {
    if (this.#o.hub.size >= MAX_STREAMS) {
      return send(res, 503, "too many open live streams\n", "text/plain; charset=utf-8", {
        "Retry-After": "30",
      });
    }
    const one = url.searchParams.get("dataflow");
    serveStream(
      res,
      SECURITY_HEADERS,
      (sendEvent) =>
        one
          ? this.#o.hub.subscribeDetail(one, sendEvent)
          : this.#o.hub.subscribeList(filterFrom(url.searchParams), sendEvent),
    );
  }

  async #dataflowGet(
    namespace: string,
    name: string,
    sub: string | undefined,
    url: URL,
    viewer: Viewer,
    res: ServerResponse,
  ): Promise<void> {
    const df = NAME.test(namespace) && NAME.test(name)
      ? this.#o.dataflows.get(`${namespace}/${name}`)
      : undefined;
    if (!df) {
      return send(
        res,
        404,
        errorPage(
          viewer,
          "Not found",
          `There is no DataFlow ${namespace}/${name} (or the console does not watch it).`,
        ),
      );
    }
    if (sub === "logs") {
      const pod = url.searchParams.get("pod") ?? "",
        container = url.searchParams.get("container") ?? "processor";
      const base = { viewer, namespace, dataflow: name, pod, container };
      try {
        const text = await readProcessorLog(this.#o.client, { namespace, dataflow: name, pod, container });
        return send(res, 200, renderLogsPage({ ...base, log: text }));
      } catch (err) {
        return send(res, 200, renderLogsPage({ ...base, error: err }));
      }
    }
    if (sub === "edit" || sub === "delete") {
      if (viewer.writes === "off") {
        return send(res, 404, errorPage(viewer, "Not found", "This console is read-only."));
      }
      if (!canWrite(viewer)) {
        return redirect(res, `/login?next=${encodeURIComponent(dataflowPath(namespace, name, `/${sub}`))}`);
      }
      if (sub === "delete") return send(res, 200, renderDeletePage(viewer, df));
      return send(
        res,
        200,
        renderFormPage({ viewer, mode: "edit", target: { namespace, name }, text: editableYaml(df) }),
      );
    }
    const flash: Flash | undefined = url.searchParams.has("created")
      ? { kind: "ok", text: "Created." }
      : url.searchParams.has("saved")
      ? { kind: "ok", text: "Saved." }
      : undefined;
    const data = await loadDetail(this.#o.client, df);
    send(res, 200, renderDetailPage({ viewer, df, data, flash }));
  }

  /** The client a write is sent with, or undefined when the viewer must sign in first. */
  #writer(session: Session): { client: KubeClient; close: () => void } | undefined {
    const identity = this.#o.identity;
    if (identity.mode === "kubeconfig") return { client: identity.client, close: () => {} };
    if (identity.mode === "token" && session.token) return clientForToken(identity.config, session.token);
    return undefined;
  }

  async #post(path: string, form: URLSearchParams, session: Session, viewer: Viewer, res: ServerResponse) {
    if (path === "/login") return await this.#login(form, session, res);
    if (path === "/logout") {
      this.sessions.end(session);
      return redirect(res, "/");
    }
    const m = /^\/dataflows\/([^/]+)\/([^/]+)\/(edit|delete)$/.exec(path);
    if (path !== "/new" && !m) return send(res, 404, errorPage(viewer, "Not found", `Nothing at ${path}.`));
    const writer = this.#writer(session);
    if (!writer) return redirect(res, "/login");
    try {
      // Browsers submit a text area's lines with CRLF.
      const text = (form.get("yaml") ?? "").replace(/\r\n?/g, "\n");
      if (path === "/new") {
        const r = await createDataFlow(writer.client, text);
        this.#audit("create", r.ok ? r.dataflow : undefined, viewer, r.ok ? undefined : r.errors);
        if (r.ok) {
          return redirect(
            res,
            dataflowPath(r.dataflow.metadata.namespace ?? "", r.dataflow.metadata.name, "?created"),
          );
        }
        return send(res, 422, renderFormPage({ viewer, mode: "create", text, errors: r.errors }));
      }
      const target = { namespace: decodeURIComponent(m![1]), name: decodeURIComponent(m![2]) };
      if (m![3] === "edit") {
        const r = await updateDataFlow(writer.client, target, text);
        this.#audit("update", r.ok ? r.dataflow : undefined, viewer, r.ok ? undefined : r.errors, target);
        if (r.ok) return redirect(res, dataflowPath(target.namespace, target.name, "?saved"));
        return send(res, 422, renderFormPage({ viewer, mode: "edit", target, text, errors: r.errors }));
      }
      const r = await deleteDataFlow(writer.client, { ...target, uid: form.get("uid") || undefined });
      this.#audit("delete", undefined, viewer, r.ok ? undefined : r.errors, target);
      if (r.ok) return redirect(res, `/?deleted=${encodeURIComponent(`${target.namespace}/${target.name}`)}`);
      return send(res, 422, errorPage(viewer, "Not deleted", r.errors.map((e) => e.message).join("; ")));
    } finally {
      writer.close();
    }
  }

  #audit(
    verb: string,
    df: DataFlow | undefined,
    viewer: Viewer,
    errors: FieldError[] | undefined,
    target?: { namespace: string; name: string },
  ): void {
    const ref = df
      ? `${df.metadata.namespace}/${df.metadata.name}`
      : target
      ? `${target.namespace}/${target.name}`
      : "?";
    const fields = { verb, dataflow: ref, user: viewer.user ?? "(kubeconfig)" };
    if (!errors) log.info("{user} {verb} DataFlow {dataflow}", fields);
    else {log.info("{user} {verb} DataFlow {dataflow} refused: {error}", {
        ...fields,
        error: errors[0]?.message,
      });}
  }

  #loginPage(viewer: Viewer, next: string, res: ServerResponse, error?: string, status = 200): void {
    if (viewer.writes !== "token") return redirect(res, "/");
    send(
      res,
      status,
      renderPage(
        { title: "Sign in", nav: "login", viewer },
        html`<h1>Sign in to write</h1>
${error && html`<div class="banner error" role="alert">${error}</div>`}
<p>Writes from this console are sent with your own Kubernetes token, so the API server applies your RBAC.
The token stays in this console's memory for your session (never in a cookie or a log); sign out forgets it.
Get one with <code>kubectl create token &lt;service-account&gt;</code> or from your cluster's sign-in.</p>
<form method="post" action="/login">${csrfField(viewer)}
<input type="hidden" name="next" value="${next}">
<p><label for="token">Bearer token</label><br>
<input type="password" id="token" name="token" autocomplete="off" size="60" required></p>
<p><button type="submit" class="primary">Sign in</button></p></form>`,
      ),
    );
  }

  async #login(form: URLSearchParams, session: Session, res: ServerResponse): Promise<void> {
    const identity = this.#o.identity;
    const next = form.get("next") || "/";
    if (identity.mode !== "token") return redirect(res, "/");
    const token = (form.get("token") ?? "").trim();
    const viewer = this.#viewer(session);
    if (!token || /\s/.test(token)) return this.#loginPage(viewer, next, res, "Paste one bearer token.", 400);
    const { client, close } = clientForToken(identity.config, token);
    try {
      const user = await whoAmI(client);
      session.token = token;
      session.user = user;
      log.info("{user} signed in", { user });
      redirect(res, next);
    } catch (err) {
      const refused = (err as { code?: number }).code === 401;
      this.#loginPage(
        viewer,
        next,
        res,
        refused
          ? "The API server did not accept this token (401)."
          : `Could not check the token: ${errorText(err)}`,
        refused ? 401 : 502,
      );
    } finally {
      close();
    }
  }
}
