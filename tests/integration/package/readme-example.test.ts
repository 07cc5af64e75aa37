/**
 * The toolkit as others get it: the README's `npx -y deno@2.9.6 task npm`, run as written, builds and
 * packs the npm package, the tarball is
 * installed into a fresh project outside the repository (its dependencies from the npm registry),
 * and the README's toolkit example, unchanged, runs there against the test control plane: it must
 * reconcile a labelled ConfigMap into an Event and exit 0 on SIGTERM.
 *
 * The example runs on the runtime that runs this file (Deno, then Bun in `deno task test`) and,
 * from the Deno run, on Node as well (Node has no test run of its own); the Deno run also
 * type-checks it against the package's `.d.ts` with Node16 module resolution. Node connects the way the
 * README says it can: a bearer token, the server's CA trusted through NODE_EXTRA_CA_CERTS, no TLS
 * settings in the kubeconfig.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ensureTypeScript, type NpmBuild, OUT_DIR, ROOT } from "../../../npm/build.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { waitFor } from "../../tools/wait.ts";

/** The first TypeScript block under "## The toolkit" in README.md, as a user copies it. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The toolkit"));
  const m = section.match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error("README.md has no ```ts block under ## The toolkit");
  return m[1];
}

/** The README's command line that builds the npm package. */
function readmeBuildCommand(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The toolkit"));
  const m = section.match(/```sh\n(npx -y deno@[^ ]+ task npm)\b/);
  if (!m) throw new Error("README.md has no `npx -y deno@... task npm` block under ## The toolkit");
  return m[1];
}

/** Runs a command to completion in `cwd`; resolves with its output, rejects with it when it fails. */
function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => out += d);
    child.stderr!.on("data", (d) => out += d);
    child.on("error", reject);
    child.on(
      "exit",
      (code) => code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: ${out}`)),
    );
  });
}

const host = (globalThis as { Bun?: unknown }).Bun
  ? "bun"
  : (globalThis as { Deno?: unknown }).Deno
  ? "deno"
  : "node";
let project = "";
let build: NpmBuild;
before(async () => {
  // As a user types it, in the checkout; its last line names the tarball it packed.
  const out = await run("sh", ["-c", readmeBuildCommand()], ROOT);
  const m = out.match(/^(\S+)@(\S+): (\S+\.tgz)$/m);
  if (!m) throw new Error(`the build did not name its tarball:\n${out}`);
  build = { name: m[1], version: m[2], tarball: join(ROOT, m[3]), dir: join(OUT_DIR, "package") };
  project = mkdtempSync(join(tmpdir(), "toolkit-example-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "toolkit-example", private: true, type: "module" }),
  );
  await run("npm", ["install", "--no-audit", "--no-fund", build.tarball], project);
  const example = readmeExample();
  writeFileSync(join(project, "example.ts"), example);
  // The README's example is plain JavaScript in a .ts block: Node (without type stripping) runs it as is.
  writeFileSync(join(project, "example.mjs"), example);
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Starts the example, waits for its Event about a fresh ConfigMap, stops it with SIGTERM. */
async function runExample(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<void> {
  const cp = await testControlPlane();
  const client = clientFor(cp);
  const ns = await freshNamespace(cp, "readme");
  const child = spawn(cmd, args, {
    cwd: project,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => output += d);
  child.stderr!.on("data", (d) => output += d);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(exitCode = code)));
  try {
    await client.create(builtin.ConfigMap, {
      metadata: { name: "hello", namespace: ns, labels: { app: "demo" } },
      data: { a: "1", b: "2" },
    });
    const message = await waitFor("the example's Seen event", async () => {
      const events = await client.list<{ reason?: string; message?: string }>(builtin.Event, {
        namespace: ns,
      });
      return events.items.find((e) => e.reason === "Seen")?.message;
    }, {
      timeoutMs: 60_000,
      intervalMs: 300,
      abortIf: () => exitCode !== undefined ? `the example exited ${exitCode}` : undefined,
      describe: () => `example output:\n${output}`,
    });
    assert.equal(message, `ConfigMap ${ns}/hello has 2 keys`);
  } finally {
    // process.kill, not child.kill: on Deno, child.kill reports the child as killed by the
    // signal even when it handled it and exited with a code.
    if (exitCode === undefined) process.kill(child.pid!, "SIGTERM");
  }
  assert.equal(await exited, 0, `the example did not exit 0 on SIGTERM; output:\n${output}`);
}

describe("the README's toolkit example, from the packed npm package in a fresh project", () => {
  it("packs the toolkit alone: two entry points, yaml among the dependencies, no zod", () => {
    const manifest = JSON.parse(readFileSync(join(build.dir, "package.json"), "utf8"));
    assert.deepEqual(Object.keys(manifest.exports), [".", "./testing"]);
    assert.ok(manifest.dependencies.yaml, "yaml is a dependency (the kubeconfig loader)");
    assert.equal(manifest.dependencies.zod, undefined);
    const installed = JSON.parse(
      readFileSync(join(project, "node_modules", ...build.name.split("/"), "package.json"), "utf8"),
    );
    assert.equal(installed.version, build.version);
  });

  it(`runs on ${host}`, async () => {
    const cp = await testControlPlane();
    const args = host === "deno" ? ["run", "-A", "example.ts"] : ["example.ts"];
    await runExample(process.execPath, args, { KUBECONFIG: cp.info.admin.kubeconfigPath });
  });

  // Work that does not depend on the runtime running this file: once, in the Deno run.
  if (host === "deno") {
    it("type-checks against the package's .d.ts as a Node16 project would resolve them", async () => {
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "NodeNext",
            moduleResolution: "NodeNext",
            target: "ES2022",
            lib: ["ES2023", "DOM"],
            strict: true,
            noEmit: true,
            types: ["node"],
            typeRoots: [join(ROOT, "node_modules", "@types")],
          },
          files: ["example.ts"],
        }),
      );
      await run("node", [await ensureTypeScript(), "-p", project], project);
    });

    it("runs on Node with a bearer token and the CA from NODE_EXTRA_CA_CERTS", async () => {
      const cp = await testControlPlane();
      const kubeconfig = join(project, "token.kubeconfig");
      writeFileSync(
        kubeconfig,
        `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${cp.info.server}
users:
- name: token-admin
  user:
    token: ${cp.info.adminToken}
contexts:
- name: test
  context: { cluster: test, user: token-admin }
current-context: test
`,
      );
      await runExample("node", ["example.mjs"], {
        KUBECONFIG: kubeconfig,
        NODE_EXTRA_CA_CERTS: cp.info.caPath,
      });
    });
  }
});
