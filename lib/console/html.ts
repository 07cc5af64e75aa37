/**
 * HTML that is escaped by default. Every page of the console is built with the {@link html}
 * tagged template: each interpolated value is escaped with {@link escapeHtml} unless it is itself
 * an {@link Html} fragment built the same way. DataFlow names, specs, status messages, annotations
 * and Event messages are written by tenants, so nothing reaches a page any other way; the only
 * unescaped text is the template literals' own source, which is this repository's code.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/**
 * Escapes text for HTML element content and for quoted attribute values (`&`, `<`, `>`, `"`, `'`,
 * and the backtick old browsers treated as a quote). Unpaired surrogates and C0 controls other
 * than tab, newline and carriage return are replaced by U+FFFD, so no byte sequence in a tenant's
 * string changes how the page parses.
 */
export function escapeHtml(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]).replace(CONTROLS, "\ufffd").replace(
    LONE_SURROGATES,
    "\ufffd",
  );
}

// C0 controls but tab, newline and carriage return, and DEL; unpaired surrogates.
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A fragment of HTML that is safe to insert as it is (built by {@link html}). */
export class Html {
  /** @internal use {@link html}; only this module builds fragments from strings. */
  constructor(readonly value: string) {}
  /** The markup. */
  toString(): string {
    return this.value;
  }
}

/** What a template may interpolate: text (escaped), fragments, and lists of either. */
export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === false || value === null || value === undefined) return "";
  return escapeHtml(value);
}

/**
 * The console's only way to build markup: `html\`<td>${name}</td>\`` escapes `name`. Arrays are
 * concatenated, `false`/`null`/`undefined` render as nothing (for `${cond && html\`...\`}`).
 * Attribute values must be quoted in the template (`title="${x}"`); the escaping covers both quotes.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Joins fragments (or escaped text) with a separator fragment. */
export function joinHtml(items: readonly Interpolation[], separator: Html = new Html("")): Html {
  return new Html(items.map(render).join(separator.value));
}

/** A table's header: one `<th scope="col">` per column name, in order. */
export function tableHead(...columns: string[]): Html {
  return html`
    <thead>
      <tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr>
    </thead>
  `;
}
