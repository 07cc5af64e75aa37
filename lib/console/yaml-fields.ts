/**
 * Finding the line of a field in the YAML (or JSON) a user typed, so the API server's message
 * about `spec.sink.kafka.brokers[0]` is shown under the line that holds it. A field that is not
 * in the text (a required one that is missing) is placed at its nearest ancestor that is.
 */
import { isMap, isPair, isScalar, isSeq, type Node, parseDocument } from "yaml";

/** A field path as the API server spells it, split: `a.b[0][x.y/z]` → `a`, `b`, 0, `x.y/z`. */
export function splitFieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]/g;
  for (const m of field.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else out.push(/^\d+$/.test(m[2]) ? Number(m[2]) : m[2]);
  }
  return out;
}

/** The 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === "\n") line++;
  return line;
}

/**
 * The 1-based line where `field` (or its nearest present ancestor) is written; undefined when
 * the text does not parse or the field's first segment is not there either.
 */
export function fieldLine(text: string, field: string): number | undefined {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) return undefined;
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const segment of splitFieldPath(field)) {
    if (isMap(node)) {
      const pair = node.items.find((p) =>
        isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment)
      );
      if (!pair) break;
      const key = pair.key as Node;
      offset = key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset === undefined ? undefined : lineOf(text, offset);
}
