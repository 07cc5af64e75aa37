/**
 * The structure the toolkit promises (docs/architecture.md): layers import one way, no module
 * imports itself back through others, and no library file grows past 400 lines.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const lib = join(root, "lib");

/** What each directory of lib/ may import besides itself (the layers, bottom first). */
const LAYERS: Record<string, string[]> = {
  time: [],
  collections: [],
  observe: ["time"],
  kube: ["time", "observe", "collections"],
  runtime: ["kube", "time", "observe", "collections"],
  events: ["kube", "time", "observe", "collections"],
  dataflow: ["runtime", "events", "kube", "time", "observe", "collections"],
  console: ["dataflow", "runtime", "events", "kube", "time", "observe", "collections"],
  // The executable's command line, dispatching to either application.
  cli: ["console", "dataflow", "runtime", "events", "kube", "time", "observe", "collections"],
};
/** Files generated from other sources (their length is the data's). */
const GENERATED = new Set(["lib/dataflow/manifests.generated.ts"]);
const MAX_LINES = 400;

function libFiles(dir = lib): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? libFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  );
}

/** The relative modules a file imports, statically or with import(), as absolute paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms),
    ...text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => resolve(dirname(file), s));
}

const files = libFiles();
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const layerOf = (file: string) => relative(lib, file).split("/")[0];

describe("the library's structure", () => {
  it("every directory of lib/ has a layer", () => {
    const dirs = [...new Set(files.map(layerOf))].filter((d) => !d.endsWith(".ts"));
    assert.deepEqual(dirs.filter((d) => !(d in LAYERS)), []);
  });

  it("layers import one way: kube and events know no runtime, time and observe sit at the bottom", () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = layerOf(file);
      for (const dep of deps) {
        const to = layerOf(dep);
        // Outside lib/: only the applications read the repository's files (their version, package.json).
        if (to === ".." && (from === "dataflow" || from === "console")) continue;
        if (to !== from && !LAYERS[from]?.includes(to)) {
          wrong.push(`${relative(root, file)} -> ${relative(root, dep)}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("no import cycle between files", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, "visiting");
      stack.push(f);
      for (const dep of graph.get(f) ?? []) {
        if (state.get(dep) === "visiting") {
          cycles.push(stack.slice(stack.indexOf(dep)).concat(dep).map((x) => relative(root, x)).join(" -> "));
        } else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(f, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });

  it(`no library file is longer than ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ f: relative(root, f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter(({ f, lines }) => lines > MAX_LINES && !GENERATED.has(f))
      .map(({ f, lines }) => `${f}: ${lines}`);
    assert.deepEqual(long, []);
  });
});
