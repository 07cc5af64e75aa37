/**
 * The npm package's package.json and README, derived from the repository: name, version and
 * license from deno.json (one version for JSR and npm), dependency versions from package.json.
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * What the toolkit needs at run time (yaml: kubeconfigs; LogTape: logs) and for its types
 * (kubernetes-types, referenced by the `.d.ts`). Not zod: that is the DataFlow operator's.
 */
export const TOOLKIT_DEPENDENCIES: readonly string[] = ["@logtape/logtape", "kubernetes-types", "yaml"];

/** The fields of the generated package.json this build sets. */
export interface PackageManifest {
  name: string;
  version: string;
  description: string;
  license: string;
  type: "module";
  engines: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  dependencies: Record<string, string>;
}

/** The package.json of the toolkit's npm package. */
export function packageManifest(root: string): PackageManifest {
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  const repo = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dependencies: Record<string, string> = {};
  for (const name of TOOLKIT_DEPENDENCIES) {
    const version = repo.dependencies?.[name];
    if (!version) throw new Error(`package.json has no dependency ${name}`);
    dependencies[name] = version;
  }
  const entry = (base: string) => ({ types: `./${base}.d.ts`, default: `./${base}.js` });
  return {
    name: deno.name,
    version: deno.version,
    description: "A Kubernetes operator toolkit for Node, Deno and Bun: API client, informers, " +
      "work queue, controllers, leader election, manager, event recorder, logs and metrics",
    license: deno.license,
    type: "module",
    // Node 20: global fetch, AbortSignal.any; the toolkit uses no newer API.
    engines: { node: ">=20" },
    exports: { ".": entry("mod"), "./testing": entry("testing") },
    dependencies,
  };
}

/** The package's README: the repository README's toolkit section (the example and its notes). */
export function packageReadme(root: string): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("## The toolkit");
  if (start < 0) throw new Error("README.md has no section ## The toolkit");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end).replace(/^## The toolkit/, "# The toolkit");
  return section.trimEnd() + "\n";
}
