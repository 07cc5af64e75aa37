/**
 * Turns whatever callers pass into field values the API server accepts (docs/behaviour/events.md, "Field limits"): type
 * Normal/Warning, reason and action 1-128 bytes without whitespace, message at most 1024 UTF-8
 * bytes without control characters, a qualified reporting component, a reporting instance of at
 * most 128 bytes, and event names that are DNS-1123 subdomains.
 *
 * All lengths are UTF-8 bytes, because the server measures Go strings (`len`), not characters.
 */
import type { EventType } from "./types.ts";

/** The server's limit for `message` when `eventTime` is set. */
export const MAX_MESSAGE_BYTES = 1024;
/** The server's limit for `reason`, `action` and `reportingInstance`. */
export const MAX_FIELD_BYTES = 128;
/** Infix placed where a long message was cut. */
export const ELLIPSIS = "...";
/** Reason used when the caller gave none (or only whitespace). */
export const DEFAULT_REASON = "Unspecified";

const encoder = new TextEncoder();

/** UTF-8 length of a string (lone surrogates count 3 bytes, as U+FFFD on the wire). */
export function utf8Length(s: string): number {
  // Counted by hand: TextEncoder allocates, and this runs on every emit.
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

const SURROGATE = /[\uD800-\uDFFF]/;
// deno-lint-ignore no-control-regex -- a plain reason needs no work at all
const PLAIN_REASON = /^[^\s\u0000-\u001F\u007F-\u009F\u2028\u2029\uD800-\uDFFF]{1,42}$/;

/** Replaces lone surrogates by U+FFFD, so that byte counts match what the server decodes. */
export function wellFormed(s: string): string {
  if (!SURROGATE.test(s)) return s;
  // A regex rather than String.prototype.toWellFormed: it is not in every runtime we target.
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

const WARNING_TYPES = new Set(["warning", "warn", "error", "err", "fatal", "critical", "exception"]);

/** Maps any type to Normal or Warning (kopf's `Error`/`Fatal` become Warning; unknown values Normal). */
export function normalizeType(type: string | undefined): EventType {
  if (type === "Normal" || type === "Warning") return type;
  return WARNING_TYPES.has(String(type ?? "").trim().toLowerCase()) ? "Warning" : "Normal";
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes, on a code-point boundary. */
export function cutToBytes(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = utf8Length(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

/** The last at most `maxBytes` UTF-8 bytes of a string, starting on a code-point boundary. */
function tailBytes(s: string, maxBytes: number): string {
  const chars = Array.from(s);
  let bytes = 0;
  let i = chars.length;
  while (i > 0) {
    const n = utf8Length(chars[i - 1]);
    if (bytes + n > maxBytes) break;
    bytes += n;
    i--;
  }
  return chars.slice(i).join("");
}

// C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: each breaks a table row.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL_RUN = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]+/g;
// deno-lint-ignore no-control-regex -- as above, minus the newline
const CONTROL_RUN_KEEP_NL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u2028\u2029]+/g;

/**
 * Normalizes a message: well-formed Unicode, control-character runs (newlines included unless
 * `keepNewlines`) become one space, surrounding whitespace is trimmed, and a message over
 * 1024 bytes keeps its head and tail around `...`.
 */
export function normalizeMessage(message: unknown, keepNewlines = false): string {
  let s = wellFormed(typeof message === "string" ? message : String(message ?? ""));
  if (keepNewlines) s = s.replace(/\r\n?/g, "\n");
  s = s.replace(keepNewlines ? CONTROL_RUN_KEEP_NL : CONTROL_RUN, " ").trim();
  return truncateMiddle(s, MAX_MESSAGE_BYTES);
}

/** Keeps head and tail of `s` around {@link ELLIPSIS} so the result fits `maxBytes` UTF-8 bytes. */
export function truncateMiddle(s: string, maxBytes: number): string {
  // Cheap exit: a UTF-16 unit is at most 3 UTF-8 bytes, so short strings never need measuring.
  if (s.length * 3 <= maxBytes || utf8Length(s) <= maxBytes) return s;
  const room = maxBytes - utf8Length(ELLIPSIS);
  const head = cutToBytes(s, Math.ceil(room / 2));
  const tail = tailBytes(s, room - utf8Length(head));
  return head + ELLIPSIS + tail;
}

/**
 * Normalizes a reason (or action): whitespace and control characters removed with the next word
 * capitalised (`"Failed to sync"` -> `FailedToSync`), cut to 128 bytes; empty becomes `fallback`.
 */
export function normalizeReason(reason: unknown, fallback = DEFAULT_REASON): string {
  if (typeof reason === "string" && PLAIN_REASON.test(reason)) return reason;
  // deno-lint-ignore no-control-regex -- whitespace and control characters separate words
  const words = wellFormed(String(reason ?? "")).split(/[\s\u0000-\u001F\u007F-\u009F\u2028\u2029]+/u)
    .filter((w) => w.length > 0);
  const joined = words.map((w, i) => i === 0 ? w : w[0].toUpperCase() + w.slice(1)).join("");
  const cut = cutToBytes(joined, MAX_FIELD_BYTES);
  return cut.length > 0 ? cut : fallback;
}

const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Whether `s` is a DNS-1123 subdomain (at most 253 characters). */
export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** Whether `s` is a DNS-1123 label (at most 63 characters), the rule for namespace names. */
export function isDns1123Label(s: string): boolean {
  return s.length > 0 && s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Whether `s` is a Kubernetes qualified name: `[dns-subdomain/]name`, name 1-63 characters. */
export function isQualifiedName(s: string): boolean {
  const parts = s.split("/");
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return false;
  return parts.length === 1 || isDns1123Subdomain(parts[0]);
}

/**
 * The reporting instance: control characters removed and, when over 128 bytes, cut with a short
 * hash of the whole value appended so distinct long instances stay distinct.
 */
export function normalizeInstance(instance: string, fallback: string): string {
  const s = wellFormed(instance).replace(CONTROL_RUN, "").trim();
  if (s.length === 0) return fallback;
  if (utf8Length(s) <= MAX_FIELD_BYTES) return s;
  const hash = fnv1a(s);
  return cutToBytes(s, MAX_FIELD_BYTES - hash.length - 1) + "-" + hash;
}

/** 32-bit FNV-1a hash as 8 hex digits: a stable, dependency-free fingerprint. */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * A name prefix derived from the object's name that is a valid DNS-1123 subdomain start:
 * lower-cased, other characters turned into `-`, labels trimmed, at most 200 characters (room for
 * the unique suffix). Returns "" when nothing usable is left.
 */
export function namePrefix(objectName: string): string {
  const lowered = objectName.toLowerCase().replace(/[^a-z0-9.-]/g, "-").slice(0, 200);
  return lowered.split(".").map((label) => label.replace(/^-+|-+$/g, "")).filter((l) => l.length > 0).join(
    ".",
  );
}

/**
 * A unique event name: `<prefix>.<hex time><hex sequence><hex random>`, always a DNS-1123
 * subdomain of at most 253 characters, distinct across calls of one process (the sequence) and
 * across replicas (the random part).
 */
export function eventName(objectName: string, nowMs: number, sequence: number, random: () => number): string {
  const prefix = namePrefix(objectName) || "event";
  const rnd = Math.floor(random() * 0xffffff).toString(16).padStart(6, "0");
  const seq = (sequence & 0xffff).toString(16).padStart(4, "0");
  return `${prefix}.${Math.floor(nowMs).toString(16)}${seq}${rnd}`;
}

/** RFC 3339 with exactly six fractional digits (MicroTime, for `eventTime`). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_, millis: string) => `.${millis}000Z`);
}

/** RFC 3339 at second precision (metav1.Time, for `firstTimestamp`/`lastTimestamp`). */
export function secondTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
