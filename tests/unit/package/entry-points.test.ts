/**
 * The toolkit's public entry points (docs/toolkit.md): `mod.ts` is the toolkit and nothing else,
 * `testing.ts` holds the test helpers, and the DataFlow operator and console use the toolkit only
 * through its layers' mod.ts files, the same API an outside user gets.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const TOOLKIT_LAYERS = ["kube", "runtime", "events", "observe", "time"];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  );
}

/** The specifiers a file imports: statically (`import`/`export ... from`, types included) or with import(). */
function importsOf(file: string): { static: string[]; dynamic: string[] } {
  const text = readFileSync(file, "utf8");
  return {
    static: [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)].map((m) => m[1])
      .concat([...text.matchAll(/^\s*import\s+"([^"]+)"/gm)].map((m) => m[1])),
    dynamic: [...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]),
  };
}

/** Every file and bare package a module reaches through static imports (what loading it loads). */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of importsOf(file).static) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith("node:")) {
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
      }
    }
  };
  visit(entry);
  return { files, packages };
}

describe("the toolkit's entry points", () => {
  it("importing mod.ts loads no DataFlow or console module, no embedded manifests and no zod", () => {
    const { files, packages } = staticGraph(join(root, "mod.ts"));
    const app = [...files].map((f) => relative(root, f)).filter((f) => /^lib\/(dataflow|console)\//.test(f));
    assert.deepEqual(app, []);
    assert.ok(!packages.has("zod"), `mod.ts reaches zod: ${[...packages].join(", ")}`);
    // Only the command line, loaded when mod.ts runs as the main module.
    assert.deepEqual(importsOf(join(root, "mod.ts")).dynamic, ["./lib/cli/main.ts"]);
  });

  // Deno's own module graph (its resolver, not a regular expression): only on Deno, which has it.
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno) {
    it("Deno's module graph of mod.ts reaches the operator and zod only through the dynamic import", () => {
      const info = JSON.parse(
        execFileSync(deno.execPath(), ["info", "--json", join(root, "mod.ts")], { encoding: "utf8" }),
      ) as { roots: string[]; modules: { specifier: string; dependencies?: Dep[] }[] };
      type Dep = { isDynamic?: boolean; code?: { specifier?: string }; type?: { specifier?: string } };
      const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
      const loaded = new Set<string>();
      const visit = (specifier: string) => {
        if (loaded.has(specifier)) return;
        loaded.add(specifier);
        for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
          if (dep.isDynamic) continue;
          for (const next of [dep.code?.specifier, dep.type?.specifier]) if (next) visit(next);
        }
      };
      info.roots.forEach(visit);
      const wrong = [...loaded].filter((s) => /\/lib\/(dataflow|console)\/|^npm:\/?zod@/.test(s));
      assert.deepEqual(wrong, []);
      assert.ok([...loaded].some((s) => s.endsWith("/lib/kube/client.ts")), "the graph was walked");
    });
  }

  it("testing.ts reaches no DataFlow or console module and no zod", () => {
    const { files, packages } = staticGraph(join(root, "testing.ts"));
    const app = [...files].map((f) => relative(root, f)).filter((f) => /^lib\/(dataflow|console)\//.test(f));
    assert.deepEqual(app, []);
    assert.ok(!packages.has("zod"));
  });

  it("the main entry point exports no test helper; testing.ts exports the fake clock", async () => {
    const main = await import("../../../mod.ts");
    const testing = await import("../../../testing.ts");
    assert.equal("FakeClock" in main, false);
    assert.equal("flushMicrotasks" in main, false);
    assert.equal(typeof testing.FakeClock, "function");
  });

  it("mod.ts exports everything each toolkit layer's mod.ts exports, under the same names", async () => {
    const main: Record<string, unknown> = await import("../../../mod.ts");
    const missing: string[] = [];
    for (const layer of TOOLKIT_LAYERS) {
      const mod: Record<string, unknown> = await import(`../../../lib/${layer}/mod.ts`);
      for (const [name, value] of Object.entries(mod)) {
        if (main[name] !== value) missing.push(`${layer}: ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it("lib/dataflow and lib/console reach the toolkit's layers only through their mod.ts", () => {
    const deep: string[] = [];
    for (const app of ["dataflow", "console"]) {
      const dir = join(root, "lib", app);
      if (!existsSync(dir)) continue;
      for (const file of tsFiles(dir)) {
        const { static: s, dynamic: d } = importsOf(file);
        for (const spec of [...s, ...d].filter((x) => x.startsWith("."))) {
          const target = relative(join(root, "lib"), resolve(dirname(file), spec)).split("/");
          if (TOOLKIT_LAYERS.includes(target[0]) && target.slice(1).join("/") !== "mod.ts") {
            deep.push(`${relative(root, file)} -> ${spec}`);
          }
        }
      }
    }
    assert.deepEqual(deep, []);
  });

  it("deno.json names the package, its version (package.json's) and both entry points", () => {
    const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.match(deno.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/);
    assert.equal(deno.version, pkg.version);
    assert.deepEqual(deno.exports, { ".": "./mod.ts", "./testing": "./testing.ts" });
  });
});
