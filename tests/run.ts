/**
 * The whole test run, as CI and `deno task test` perform it:
 *   1. static checks: deno lint, deno fmt --check, deno check;
 *   2. the test control plane: built once into the cache (tests/controlplane/build.sh) and started;
 *      if either fails, the run fails here, loudly — integration tests are never skipped;
 *   3. every test file under tests/unit, tests/integration and tests/e2e on Deno, then on Bun;
 *   4. the end-to-end suite again against the Bun-compiled single binary, then the fault suite
 *      (tests/fault: churn under injected faults, hostile specs) with that binary as the operator;
 *   5. the operator image (tests/image, on Deno): built with podman by `deno task image`'s script,
 *      then run as a kubelet would run it;
 *   6. tests/audit: the operator's RBAC grants against the audit logs of every control plane above;
 *   7. tests/browser: the web console in headless Chromium (Debian's chromium), once, on Deno;
 *   8. one closing line `N passed, N failed` over every runtime.
 * Step 1 also runs `deno doc --lint` on the public entry points and `deno publish --dry-run`.
 * Flags: --no-static (skip step 1), --no-bun, --no-binary, --no-fault, --no-image, --no-browser,
 * --only <dir-or-file> (a subset of tests).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { ControlPlane } from "./controlplane/harness.ts";
import { writeDescriptor } from "./controlplane/env.ts";

const { values } = parseArgs({
  options: {
    "no-static": { type: "boolean" },
    "no-bun": { type: "boolean" },
    "no-binary": { type: "boolean" },
    "no-fault": { type: "boolean" },
    "no-image": { type: "boolean" },
    "no-browser": { type: "boolean" },
    only: { type: "string", multiple: true },
  },
});

const root = new URL("..", import.meta.url).pathname;
process.chdir(root);
const deno = process.execPath.includes("deno") ? process.execPath : "deno";
const tmp = mkdtempSync(join(tmpdir(), "dataflow-run-"));

/** Runs a command with inherited output; resolves with its exit code. */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  console.log(`\n$ ${cmd} ${args.join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
    child.on("error", (e) => {
      console.error(`cannot run ${cmd}: ${e.message}`);
      resolve(127);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Leaf test cases and failures in a JUnit file (suites that only group other cases are not counted). */
function countJunit(path: string): { passed: number; failed: number; skipped: number } {
  if (!existsSync(path)) return { passed: 0, failed: 0, skipped: 0 };
  const xml = readFileSync(path, "utf8");
  const cases = [...xml.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map(
    (m) => ({
      name: m[1],
      body: m[3] ?? "",
    }),
  );
  const names = cases.map((c) => c.name);
  let passed = 0, failed = 0, skipped = 0;
  for (const c of cases) {
    if (names.some((n) => n.startsWith(`${c.name} &gt; `))) continue; // a describe block
    if (/<failure|<error/.test(c.body)) failed++;
    else if (/<skipped/.test(c.body)) skipped++;
    else passed++;
  }
  return { passed, failed, skipped };
}

/** Bun from PATH, else installed from the npm registry into the cache (pinned like Deno). */
async function ensureBun(): Promise<string> {
  const probe = (cmd: string) =>
    new Promise<boolean>((resolve) => {
      const c = spawn(cmd, ["--version"], { stdio: "ignore" });
      c.on("error", () => resolve(false));
      c.on("exit", (code) => resolve(code === 0));
    });
  if (await probe("bun")) return "bun";
  const dir = join(
    process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? tmpdir(), ".cache"),
    "dataflow-operator",
    "tools",
  );
  const bin = join(dir, "node_modules", ".bin", "bun");
  if (!(await probe(bin))) {
    console.log(`installing bun@${BUN_VERSION} from the npm registry into ${dir}`);
    if (
      await run("npm", ["install", "--no-audit", "--no-fund", "--prefix", dir, `bun@${BUN_VERSION}`]) !== 0
    ) {
      throw new Error("could not install Bun from the npm registry (npm install bun failed)");
    }
  }
  return bin;
}

/** The Bun version the project is tested with. */
const BUN_VERSION = "1.4.5";

const totals = { passed: 0, failed: 0, skipped: 0 };
const problems: string[] = [];

async function testStep(
  label: string,
  cmd: string,
  args: string[],
  junit: string,
  env: Record<string, string>,
) {
  const code = await run(cmd, args, env);
  const c = countJunit(junit);
  console.log(`\n${label}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (exit ${code})`);
  totals.passed += c.passed;
  totals.failed += c.failed;
  totals.skipped += c.skipped;
  if (code !== 0 && c.failed === 0) {
    totals.failed++;
    problems.push(`${label} exited ${code} without a failing test case (crash, load or type error)`);
  } else if (code !== 0) problems.push(`${label} failed`);
  if (c.passed + c.failed === 0) problems.push(`${label} ran no test`);
  if (c.skipped > 0) {
    problems.push(`${label} skipped ${c.skipped} test(s); skipped tests do not count as passed`);
  }
}

let cp: ControlPlane | undefined;
let exitCode = 1;
try {
  if (!values["no-static"]) {
    const checkPaths = ["mod.ts", "testing.ts", "lib", "tests", "bench", "npm"].filter((p) => existsSync(p));
    for (
      const [cmd, args] of [
        [deno, ["lint"]],
        [deno, ["fmt", "--check"]],
        [deno, ["check", ...checkPaths]],
        // The toolkit's public API is documented, and it publishes as a package.
        [deno, ["doc", "--lint", "mod.ts", "testing.ts"]],
        [deno, ["publish", "--dry-run", "--allow-dirty"]],
      ] as const
    ) {
      if (await run(cmd, [...args]) !== 0) {
        problems.push(`static check failed: deno ${args[0]}`);
        totals.failed++;
      }
    }
  }

  console.log("\n== starting the test control plane (built on first use) ==");
  const started = Date.now();
  try {
    cp = await ControlPlane.start();
  } catch (err) {
    console.error(
      `\nFATAL: the test control plane could not be built or started:\n${(err as Error).message}`,
    );
    throw err;
  }
  console.log(`control plane up at ${cp.info.server} in ${Date.now() - started} ms`);
  // Every control plane of the run keeps its audit log and RBAC snapshot here (tests/audit).
  const auditDir = join(tmp, "audit");
  const env = { DATAFLOW_TEST_CONTROLPLANE: writeDescriptor(cp), DATAFLOW_AUDIT_DIR: auditDir };

  const suites = values.only?.length ? values.only : ["tests/unit", "tests/integration", "tests/e2e"];
  const present = suites.filter((s) => existsSync(s));
  const bun = values["no-bun"] && values["no-binary"] ? "bun" : await ensureBun();
  await testStep(
    "deno",
    deno,
    ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/deno.xml`, ...present],
    `${tmp}/deno.xml`,
    env,
  );
  if (!values["no-bun"]) {
    await testStep(
      "bun",
      bun,
      [
        "test",
        "--timeout",
        "300000",
        "--reporter=junit",
        `--reporter-outfile=${tmp}/bun.xml`,
        ...present.map((p) => `./${p}`),
      ],
      `${tmp}/bun.xml`,
      env,
    );
  }
  if (!values["no-binary"] && existsSync("tests/e2e") && !values.only?.length) {
    const bin = join(root, "dist", "dataflow-operator-bun");
    if (
      await run(bun, [
        "build",
        "--compile",
        "--minify",
        "--sourcemap",
        // As bench/lib/operator.ts BUN_BUILD_FLAGS and the Dockerfile build it.
        "--bytecode",
        "--format=esm",
        "--splitting",
        "--compile-jit-policy=100",
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        "--outfile",
        bin,
        "mod.ts",
      ]) !== 0
    ) {
      problems.push("bun build --compile failed");
      totals.failed++;
    } else {
      await testStep(
        "e2e on the Bun binary",
        deno,
        ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/binary.xml`, "tests/e2e"],
        `${tmp}/binary.xml`,
        { ...env, DATAFLOW_OPERATOR_CMD: bin },
      );
      // The fault suite starts private control planes (it restarts the API server) and needs
      // Deno.serve, so it runs once, on Deno, with the operator as the compiled binary.
      if (existsSync("tests/fault") && !values["no-fault"]) {
        await testStep(
          "fault suite (operator: the Bun binary)",
          deno,
          ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/fault.xml`, "tests/fault"],
          `${tmp}/fault.xml`,
          { DATAFLOW_OPERATOR_CMD: bin },
        );
      }
    }
  }
  // The image, built and run with podman as a kubelet would (its own control plane: the operator
  // in the container reaches it over the host's loopback). Once, on Deno.
  if (!values["no-image"] && existsSync("tests/image") && !values.only?.length) {
    await testStep(
      "image (podman)",
      deno,
      ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/image.xml`, "tests/image"],
      `${tmp}/image.xml`,
      { DATAFLOW_AUDIT_DIR: auditDir },
    );
  }
  // Least privilege, measured over everything the end-to-end suites did (needs the whole run).
  if (existsSync("tests/audit") && !values.only?.length) {
    await testStep(
      "RBAC grants vs. audit log",
      deno,
      ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/audit.xml`, "tests/audit"],
      `${tmp}/audit.xml`,
      { DATAFLOW_AUDIT_DIR: auditDir },
    );
  }
  // The web console in a real browser (its own control plane and operator). Once, on Deno.
  if (!values["no-browser"] && existsSync("tests/browser") && !values.only?.length) {
    await testStep(
      "console in headless Chromium",
      deno,
      ["test", "-A", "--no-check", "--reporter=dot", `--junit-path=${tmp}/browser.xml`, "tests/browser"],
      `${tmp}/browser.xml`,
      {},
    );
  }
  exitCode = problems.length || totals.failed ? 1 : 0;
} catch (err) {
  problems.push((err as Error).message.split("\n")[0]);
  totals.failed++;
} finally {
  await cp?.stop().catch((e) => console.error(`control plane teardown failed: ${e}`));
  rmSync(tmp, { recursive: true, force: true });
}
for (const p of problems) console.log(`problem: ${p}`);
console.log(
  `\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`,
);
process.exit(exitCode);
