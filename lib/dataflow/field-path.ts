/** Field paths in the API server's spelling. */

/** A zod issue path in the API server's spelling: `spec.transformations[0].flatten`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`).join("");
}
