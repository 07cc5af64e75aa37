/** How the fake API server reads a request path: collection, namespace, name and subresource. */

/** A parsed API path. */
export interface ParsedPath {
  /** `group/version/plural`, or `v1/plural` for the core group. */
  collection: string;
  namespace?: string;
  name?: string;
  /** `status`, `scale`, ...: the segment after the name. */
  subresource?: string;
}

/** Splits an API path into the collection (`group/version/plural`), namespace, name and subresource. */
export function parsePath(path: string): ParsedPath {
  const seg = path.split("/").filter(Boolean).map(decodeURIComponent);
  let gv: string, rest: string[];
  if (seg[0] === "api") [gv, rest] = [seg[1], seg.slice(2)];
  else [gv, rest] = [`${seg[1]}/${seg[2]}`, seg.slice(3)];
  if (rest[0] === "namespaces" && rest.length >= 3) {
    return { collection: `${gv}/${rest[2]}`, namespace: rest[1], name: rest[3], subresource: rest[4] };
  }
  return { collection: `${gv}/${rest[0]}`, name: rest[1], subresource: rest[2] };
}

/** The resource as the server names it in messages: `configmaps`, `deployments.apps`. */
export function qualifiedResource(collection: string): { group: string; plural: string; text: string } {
  const parts = collection.split("/");
  const plural = parts[parts.length - 1];
  const group = parts.length === 3 ? parts[0] : "";
  return { group, plural, text: group ? `${plural}.${group}` : plural };
}
