/** The frame of every console page: head, navigation, who writes are sent as, flash messages. */
import { type Html, html } from "./html.ts";

/** How the console writes, as the pages need to know it. */
export type WriteModeName = "off" | "kubeconfig" | "token";

/** The person looking at a page: what they may do through the console. */
export interface Viewer {
  writes: WriteModeName;
  /** Who writes are sent as (the kubeconfig's user, or the user whose token was given). */
  user?: string;
  /** The session's CSRF token, for the forms of a page (writes enabled only). */
  csrf?: string;
}

/** A one-line notice at the top of a page. */
export interface Flash {
  kind: "ok" | "info" | "error";
  text: string;
}

/** What {@link renderPage} needs besides the content. */
export interface PageOptions {
  title: string;
  nav?: "dataflows" | "operator" | "new" | "login";
  /** The Server-Sent Events URL the page's script follows (a data attribute, never inline script). */
  stream?: string;
  viewer: Viewer;
  flash?: Flash;
}

/** The hidden CSRF field of a form. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrf ?? ""}">`;
}

/** Whether the viewer can write now (writes enabled, and in token mode signed in). */
export function canWrite(viewer: Viewer): boolean {
  return viewer.writes === "kubeconfig" || (viewer.writes === "token" && !!viewer.user);
}

function who(viewer: Viewer): Html {
  if (viewer.writes === "off") return html`<span class="mode">read-only</span>`;
  if (viewer.writes === "kubeconfig") {
    return html`<span class="mode">writes as <strong>${
      viewer.user ?? "the kubeconfig's user"
    }</strong></span>`;
  }
  if (!viewer.user) return html`<span class="mode">read-only</span> <a href="/login">Sign in to write</a>`;
  return html`
    <span class="mode">signed in as <strong>${viewer.user}</strong></span>
    <form method="post" action="/logout">${csrfField(viewer)}<button type="submit">Sign out</button></form>
  `;
}

/** A whole HTML document. */
export function renderPage(options: PageOptions, content: Html): string {
  const { nav, viewer, flash } = options;
  const current = (name: string) =>
    nav === name
      ? html`
        aria-current="page"
      `
      : html``;
  const writable = viewer.writes !== "off";
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
        <title>${options.title} · DataFlow console</title>
        <link rel="stylesheet" href="/static/console.css">
        <script src="/static/console.js" defer></script>
      </head>
      <body${options.stream
        ? html`
          data-stream="${options.stream}"
        `
        : html``}>
        <a class="sr-only" href="#main">Skip to content</a>
        <header class="top">
          <span class="brand">DataFlow console</span>
          <nav aria-label="Main">
        <a href="/"${current("dataflows")}>DataFlows</a>
        &nbsp; <a href="/operator"${current("operator")}>Operator</a>
        ${writable && html`
          &nbsp; <a href="/new" ${current("new")}>New DataFlow</a>
        `}
      </nav>
          <span class="who">${who(viewer)}</span>
        </header>
        <main id="main">
    ${flash && html`<div class="banner ${flash.kind}" role="status">${flash.text}</div>`}
    ${content}
        </main>
        </body>
        </html>
  `.value;
}

/** A page that says what went wrong (404, 403 of the console itself, a read that failed). */
export function errorPage(viewer: Viewer, title: string, message: string): string {
  return renderPage(
    { title, viewer },
    html`
      <h1>${title}</h1>
      <div class="banner error" role="alert">${message}</div>
      <p><a href="/">Back to the DataFlows</a></p>
    `,
  );
}
