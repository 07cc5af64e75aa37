/**
 * Builds the toolkit's npm package: JavaScript and `.d.ts` for its two entry points (`.` = mod.ts,
 * `./testing` = testing.ts), a package.json with an exports map, and the tarball `npm pack` makes.
 *
 *     deno task npm            # -> npm/dist/dataflow-operator-toolkit-<version>.tgz
 *
 * The package is the toolkit only: mod.ts is compiled without its `import.meta.main` block (the
 * DataFlow operator's command line), so neither lib/dataflow nor lib/console nor zod is part of it;
 * the build fails if anything still reaches them. The TypeScript compiler comes from the npm
 * registry into the tool cache outside the repository (pinned, like Bun in tests/run.ts).
 *
 * Runs on Deno, Bun and Node (node:* APIs only).
 * @module
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { packageManifest, packageReadme } from "./manifest.ts";

/** The TypeScript version the package is compiled with. */
export const TYPESCRIPT_VERSION = "5.9.3";

/** The repository's root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the build writes (git-ignored): `src/` staged sources, `package/` the package, the tarball. */
export const OUT_DIR: string = join(ROOT, "npm", "dist");

/** The toolkit's directories under lib/: everything the entry points may reach. */
export const TOOLKIT_DIRS: readonly string[] = [
  "kube",
  "runtime",
  "events",
  "observe",
  "time",
  "collections",
];

/** The line of mod.ts from which on it is the binaries' entry point, not the library. */
const MAIN_BLOCK = "if (import.meta.main) {";

/** What {@link buildNpmPackage} made. */
export interface NpmBuild {
  /** The package directory (package.json, *.js, *.d.ts). */
  dir: string;
  /** The tarball `npm pack` wrote. */
  tarball: string;
  /** The package's name and version. */
  name: string;
  version: string;
}

/** Runs a command, failing with its output when it exits non-zero. */
function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => out += d);
    child.stderr.on("data", (d) => out += d);
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out}`));
    });
  });
}

/** The tool cache shared with tests/run.ts (Bun lives there too). */
function toolDir(): string {
  const cache = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? tmpdir(), ".cache");
  return join(cache, "dataflow-operator", "tools");
}

/** tsc (a Node script) from the tool cache, installed from the npm registry on first use. */
export async function ensureTypeScript(): Promise<string> {
  const dir = toolDir();
  const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
  const installed = join(dir, "node_modules", "typescript", "package.json");
  const version = existsSync(installed) ? JSON.parse(readFileSync(installed, "utf8")).version : undefined;
  if (version !== TYPESCRIPT_VERSION) {
    mkdirSync(dir, { recursive: true });
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefix",
      dir,
      `typescript@${TYPESCRIPT_VERSION}`,
    ], dir);
  }
  return tsc;
}

/** The packages the toolkit imports; the compiler resolves them from the repository's node_modules. */
function checkDependenciesInstalled(dependencies: Record<string, string>): void {
  const missing = Object.keys(dependencies).filter((name) =>
    !existsSync(join(ROOT, "node_modules", name, "package.json"))
  );
  if (missing.length) {
    throw new Error(`node_modules lacks ${missing.join(", ")}: run \`deno install\` in ${ROOT} first`);
  }
}

/** mod.ts without the command-line block, so the library graph ends at the toolkit. */
function libraryEntry(): string {
  const source = readFileSync(join(ROOT, "mod.ts"), "utf8");
  const at = source.indexOf(MAIN_BLOCK);
  if (at < 0) throw new Error(`mod.ts has no "${MAIN_BLOCK}" block to leave out of the library`);
  return source.slice(0, at).replace(/^import process from "node:process";\n/m, "");
}

/** Copies the toolkit's sources and entry points into `src`, with a tsconfig for the package. */
function stage(src: string, pkg: string): void {
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "mod.ts"), libraryEntry());
  cpSync(join(ROOT, "testing.ts"), join(src, "testing.ts"));
  for (const dir of TOOLKIT_DIRS) {
    cpSync(join(ROOT, "lib", dir), join(src, "lib", dir), {
      recursive: true,
      filter: (from) => !from.endsWith(".md"),
    });
  }
  writeFileSync(join(src, "package.json"), JSON.stringify({ type: "module", private: true }));
  writeFileSync(
    join(src, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "ESNext",
          // kubernetes-types has no exports map: its subpaths resolve the bundler's way only.
          moduleResolution: "Bundler",
          lib: ["ES2023", "DOM", "DOM.Iterable"],
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules", "@types")],
          strict: true,
          skipLibCheck: true,
          declaration: true,
          rewriteRelativeImportExtensions: true,
          rootDir: ".",
          outDir: relative(src, pkg),
          newLine: "lf",
        },
        files: ["mod.ts", "testing.ts"],
      },
      null,
      2,
    ),
  );
}

/**
 * Points the declarations' imports where a consumer's compiler finds them: relative `.ts` imports
 * at the emitted `.d.ts` (tsc rewrites them in JavaScript only), and kubernetes-types' subpaths (a
 * package without an exports map) at their files, which Node16/NodeNext resolution requires.
 */
function fixDeclarationImports(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) fixDeclarationImports(path);
    else if (e.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8")
        .replace(/((?:from|import)\s*\(?\s*")(\.{1,2}\/[^"]+)\.ts"/g, '$1$2.js"')
        .replace(/((?:from|import)\s*\(?\s*")(kubernetes-types\/[^".]+)"/g, '$1$2.js"');
      writeFileSync(path, text);
    }
  }
}

/** Fails when the compiled package reaches the operator or zod, or is missing an entry point. */
function checkPackage(pkg: string): void {
  const wrong: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name === "dataflow" || e.name === "console") wrong.push(relative(pkg, path));
        else walk(path);
      } else if (
        /\.(js|d\.ts)$/.test(e.name) && /from\s+"zod"|import\("zod"\)/.test(readFileSync(path, "utf8"))
      ) {
        wrong.push(`${relative(pkg, path)} imports zod`);
      }
    }
  };
  walk(pkg);
  for (const entry of ["mod.js", "mod.d.ts", "testing.js", "testing.d.ts"]) {
    if (!existsSync(join(pkg, entry))) wrong.push(`${entry} missing`);
  }
  if (wrong.length) throw new Error(`the npm package is not the toolkit alone: ${wrong.join("; ")}`);
}

/**
 * Builds and packs the toolkit's npm package.
 * @param outDir where to build: {@link OUT_DIR} by default; tests pass a directory of their own
 *   (inside the repository, so the compiler finds the dependencies in its node_modules)
 */
export async function buildNpmPackage(outDir: string = OUT_DIR): Promise<NpmBuild> {
  const manifest = packageManifest(ROOT);
  checkDependenciesInstalled(manifest.dependencies);
  const tsc = await ensureTypeScript();
  const src = join(outDir, "src");
  const pkg = join(outDir, "package");
  rmSync(pkg, { recursive: true, force: true });
  stage(src, pkg);
  await run("node", [tsc, "-p", src], src);
  checkPackage(pkg);
  fixDeclarationImports(pkg);
  writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  writeFileSync(join(pkg, "README.md"), packageReadme(ROOT));
  const packed = await run("npm", ["pack", "--json", "--pack-destination", outDir], pkg);
  const [{ filename }] = JSON.parse(packed.slice(packed.indexOf("["))) as { filename: string }[];
  return { dir: pkg, tarball: join(outDir, filename), name: manifest.name, version: manifest.version };
}

if (import.meta.main) {
  const build = await buildNpmPackage();
  console.log(`${build.name}@${build.version}: ${relative(process.cwd(), build.tarball)}`);
}
