/**
 * The patch formats the fake API server applies: JSON merge patch (RFC 7386) and JSON patch
 * (RFC 6902). A strategic merge patch is applied as a merge patch (lists are replaced, not merged
 * by key): enough for the fields the toolkit patches; server-side apply is not modelled.
 */
import { Refusal } from "./responses.ts";

type Json = unknown;

/** Applies a JSON merge patch: objects merge recursively, `null` removes a field, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, Json> = target && typeof target === "object" && !Array.isArray(target)
    ? { ...(target as Record<string, Json>) }
    : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
}

function pointer(path: string): string[] {
  return path.split("/").slice(1).map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Applies a JSON patch (add, replace, remove, test) to a copy of `target`. */
export function jsonPatch(target: Json, ops: Operation[]): Json {
  const root = { doc: structuredClone(target) } as Record<string, Json>;
  for (const op of ops) {
    const keys = ["doc", ...pointer(op.path)];
    const last = keys.pop()!;
    let parent = root as Record<string, Json> | Json[];
    for (const k of keys) parent = (parent as Record<string, Json>)[k] as Record<string, Json>;
    if (!parent || typeof parent !== "object") {
      throw new Refusal(422, "Invalid", `the server rejected our request: path ${op.path} does not exist`);
    }
    const list = Array.isArray(parent) ? parent : undefined;
    const index = list ? (last === "-" ? list.length : Number(last)) : -1;
    const current = list ? list[index] : (parent as Record<string, Json>)[last];
    switch (op.op) {
      case "test":
        if (JSON.stringify(current) !== JSON.stringify(op.value)) {
          throw new Refusal(
            422,
            "Invalid",
            `the server rejected our request: testing value ${op.path} failed`,
          );
        }
        break;
      case "remove":
        if (current === undefined) {
          throw new Refusal(
            422,
            "Invalid",
            `the server rejected our request: path ${op.path} does not exist`,
          );
        }
        if (list) list.splice(index, 1);
        else delete (parent as Record<string, Json>)[last];
        break;
      case "add":
        if (list) list.splice(index, 0, op.value);
        else (parent as Record<string, Json>)[last] = op.value;
        break;
      case "replace":
        if (current === undefined) {
          throw new Refusal(
            422,
            "Invalid",
            `the server rejected our request: path ${op.path} does not exist`,
          );
        }
        if (list) list[index] = op.value;
        else (parent as Record<string, Json>)[last] = op.value;
        break;
      default:
        throw new Refusal(422, "Invalid", `the server rejected our request: unsupported operation ${op.op}`);
    }
  }
  return root.doc;
}
