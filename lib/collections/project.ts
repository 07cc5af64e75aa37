/**
 * Projection of a JSON value onto a mask: the fields a cache needs of an object, nothing else.
 * A mask is `true` (keep the value whole) or an object naming the fields to keep, each with its
 * own mask; a mask object applies to every element of an array.
 */

/** What to keep of a JSON value: `true` for all of it, or a mask per field. */
export type Mask = true | { readonly [field: string]: Mask };

/** The parts of `value` that `mask` names (absent fields stay absent; arrays keep their length). */
export function project<T>(value: T, mask: Mask): T {
  if (mask === true || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => project(v, mask)) as T;
  const out: Record<string, unknown> = {};
  for (const field in mask) {
    const v = (value as Record<string, unknown>)[field];
    if (v !== undefined) out[field] = project(v, mask[field]);
  }
  return out as T;
}
