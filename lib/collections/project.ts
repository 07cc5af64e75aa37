/**
 * Projection of a JSON value onto a mask: the fields a cache needs of an object, nothing else.
 * A mask is `true` (keep the value whole) or an object naming the fields to keep, each with its
 * own mask; a mask object applies to every element of an array. A mask wrapped in
 * {@link shared} also interns what it keeps in the {@link InternTable} the projection is given,
 * so equal parts of many cached objects are held once.
 */
import type { InternTable } from "./intern.ts";

/** Marks a {@link SharedMask}. */
const SHARED = Symbol("shared");

/** A mask whose projection is interned: see {@link shared}. */
export interface SharedMask {
  readonly [SHARED]: Mask;
}

/** What to keep of a JSON value: `true` for all of it, a mask per field, or a {@link shared} one. */
export type Mask = true | SharedMask | { readonly [field: string]: Mask };

/**
 * A mask that keeps what `mask` keeps and interns it (as a whole: an array with its elements),
 * so the projections of equal values are one shared, frozen object. Share the parts that repeat
 * across objects: an entry per distinct value costs more than the copy it saves when nothing
 * else has it.
 */
export function shared(mask: Mask = true): SharedMask {
  return { [SHARED]: mask };
}

/**
 * The parts of `value` that `mask` names (absent fields stay absent; arrays keep their length).
 * The parts under {@link shared} masks are interned in `table`, or copied as the mask says when
 * there is none.
 */
export function project<T>(value: T, mask: Mask, table?: InternTable): T {
  if (mask === true || value === null || typeof value !== "object") return value;
  if (SHARED in mask) {
    const kept = project(value, mask[SHARED], table);
    return table && kept !== null && typeof kept === "object" ? table.intern(kept as object) as T : kept;
  }
  const fields = mask as { readonly [field: string]: Mask };
  if (Array.isArray(value)) return value.map((v) => project(v, fields, table)) as T;
  const out: Record<string, unknown> = {};
  for (const field in fields) {
    const v = (value as Record<string, unknown>)[field];
    if (v !== undefined) out[field] = project(v, fields[field], table);
  }
  return out as T;
}
