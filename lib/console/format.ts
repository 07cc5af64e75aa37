/** Small formatting helpers shared by the console's pages: ages, phases, paths, YAML. */
import { stringify } from "yaml";
import { type Html, html } from "./html.ts";

/** The phases a DataFlow reports; anything else (or none) shows as "Unknown". */
export const PHASES = ["Pending", "Running", "Error", "Stopped"] as const;

/** A duration in seconds as kubectl prints ages: 45s, 12m, 5h, 3d. */
export function humanAge(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 120) return `${Math.floor(s)}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A timestamp as a `<time>` whose age the page's script keeps current; "—" when absent. */
export function timeAgo(timestamp: string | undefined | null, now = Date.now()): Html {
  if (!timestamp) return html`<span class="muted">—</span>`;
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return html`${timestamp}`;
  return html`<time datetime="${timestamp}" data-age title="${timestamp}">${
    humanAge((now - t) / 1000)
  }</time>`;
}

/** A phase badge; the CSS class comes from the known phases only, never from the value. */
export function phaseBadge(phase: string | undefined): Html {
  const known = (PHASES as readonly string[]).includes(phase ?? "") ? phase!.toLowerCase() : "unknown";
  return html`<span class="phase phase-${known}">${phase || "Unknown"}</span>`;
}

/** The console path of a DataFlow (names are encoded, and escaped again where they are rendered). */
export function dataflowPath(namespace: string, name: string, suffix = ""): string {
  return `/dataflows/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}${suffix}`;
}

/** The element id of a DataFlow's row in the list (ids may hold any character but whitespace). */
export function rowId(namespace: string, name: string): string {
  return `df:${namespace}/${name}`;
}

/** YAML as the console shows objects. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/** A query string from defined, non-empty values. */
export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The message of any thrown value. */
export function errorText(err: unknown): string {
  if (err && typeof err === "object" && "detail" in err && typeof err.detail === "string") return err.detail;
  return err instanceof Error ? err.message : String(err);
}

/** The outcome of one read a page needs: its value, or why it could not be read. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: string; code?: number };

/** Awaits a read without throwing (a page shows what it could read and says what it could not). */
export async function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return { ok: false, error: errorText(err), code: (err as { code?: number }).code };
  }
}
