/**
 * The standard process metrics (client_golang's and prom-client's names), computed at scrape time
 * on Deno and on Bun: real values from this process, and a metric whose source cannot be read is
 * skipped cleanly instead of breaking the scrape.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { Registry } from "../../../lib/observe/metrics.ts";
import { parseMaxFds, parseVsize, registerProcessMetrics } from "../../../lib/observe/process-metrics.ts";

/** Sample values by series name (metrics without labels). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

const LINUX = process.platform === "linux";

function registerAndRender(): string {
  const registry = new Registry();
  const stop = registerProcessMetrics(registry);
  try {
    return registry.render();
  } finally {
    stop();
  }
}

describe("process metrics", () => {
  it("renders every standard process metric with values of this process", () => {
    const registry = new Registry();
    const stop = registerProcessMetrics(registry);
    try {
      const text = registry.render();
      const s = samples(text);
      assert.match(text, /# TYPE process_cpu_seconds_total counter/);
      assert.match(text, /# TYPE process_resident_memory_bytes gauge/);
      const rss = s.get("process_resident_memory_bytes")!;
      assert.ok(rss > 2 ** 20 && rss < 2 ** 40, `rss ${rss}`);
      assert.ok(s.get("process_cpu_seconds_total")! > 0);
      const start = s.get("process_start_time_seconds")!;
      const now = Date.now() / 1000;
      assert.ok(start <= now && start > now - 3600, `start ${start}, now ${now}`);
      assert.ok(s.get("nodejs_heap_size_used_bytes")! > 0);
      assert.ok(s.get("nodejs_heap_size_total_bytes")! > 0);
      assert.ok(s.has("nodejs_external_memory_bytes"));
      if (LINUX) {
        assert.ok(s.get("process_virtual_memory_bytes")! >= rss);
        const open = s.get("process_open_fds")!;
        const max = s.get("process_max_fds")!;
        assert.ok(open >= 3 && open <= max, `open ${open}, max ${max}`);
      }
    } finally {
      stop();
    }
  });

  it("is computed at each scrape: CPU time only grows, open fds follow the process", () => {
    const registry = new Registry();
    const stop = registerProcessMetrics(registry);
    try {
      const before = samples(registry.render());
      let x = 0;
      const until = Date.now() + 50;
      while (Date.now() < until) x += Math.sqrt(x + 1); // burn some CPU
      const dir = mkdtempSync(join(tmpdir(), "pm-"));
      const fds = Array.from({ length: 5 }, (_, i) => openSync(join(dir, `f${i}`), "w"));
      try {
        const after = samples(registry.render());
        assert.ok(after.get("process_cpu_seconds_total")! > before.get("process_cpu_seconds_total")!);
        if (LINUX) {
          assert.ok(
            after.get("process_open_fds")! >= before.get("process_open_fds")! + 5,
            `${before.get("process_open_fds")} -> ${after.get("process_open_fds")}`,
          );
        }
        // The start time is fixed.
        assert.equal(after.get("process_start_time_seconds"), before.get("process_start_time_seconds"));
      } finally {
        for (const fd of fds) closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      }
      assert.ok(x > 0);
    } finally {
      stop();
    }
  });

  it("registers once per registry", () => {
    const registry = new Registry();
    const stop = registerProcessMetrics(registry);
    assert.equal(registerProcessMetrics(registry), stop);
    const text = registry.render();
    assert.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1);
    stop();
  });

  it("without /proc: the Linux-only metrics are skipped, the others still render", () => {
    const registry = new Registry();
    const stop = registerProcessMetrics(registry, { procSelf: "/nonexistent/proc/self" });
    try {
      const text = registry.render();
      for (const name of ["process_virtual_memory_bytes", "process_open_fds", "process_max_fds"]) {
        assert.ok(!text.includes(name), `${name} rendered without /proc`);
      }
      const s = samples(text);
      assert.ok(s.get("process_resident_memory_bytes")! > 0);
      assert.ok(s.has("process_cpu_seconds_total"));
    } finally {
      stop();
    }
  });

  it("a source that stops being readable drops its sample, never the scrape", () => {
    const dir = mkdtempSync(join(tmpdir(), "pm-proc-"));
    try {
      mkdirSync(join(dir, "fd"));
      for (const f of ["0", "1", "2"]) writeFileSync(join(dir, "fd", f), "");
      writeFileSync(
        join(dir, "limits"),
        "Limit                     Soft Limit           Hard Limit           Units     \n" +
          "Max open files            1024                 4096                 files     \n",
      );
      writeFileSync(join(dir, "stat"), `42 (a (weird) name) S ${"1 ".repeat(19)}123456789 77 0\n`);
      const registry = new Registry();
      const stop = registerProcessMetrics(registry, { procSelf: dir });
      try {
        let s = samples(registry.render());
        assert.equal(s.get("process_open_fds"), 3);
        assert.equal(s.get("process_max_fds"), 1024);
        assert.equal(s.get("process_virtual_memory_bytes"), 123456789);
        rmSync(join(dir, "limits"));
        writeFileSync(join(dir, "stat"), "garbage");
        const text = registry.render();
        s = samples(text);
        assert.equal(s.has("process_max_fds"), false);
        assert.equal(s.has("process_virtual_memory_bytes"), false);
        assert.equal(s.get("process_open_fds"), 3);
        assert.ok(s.get("process_resident_memory_bytes")! > 0);
      } finally {
        stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a Deno process without read permission is never prompted: the /proc metrics are skipped", () => {
    const deno = (globalThis as { Deno?: unknown }).Deno;
    const script = `
      import { Registry } from ${
      JSON.stringify(new URL("../../../lib/observe/metrics.ts", import.meta.url).href)
    };
      import { registerProcessMetrics } from ${
      JSON.stringify(new URL("../../../lib/observe/process-metrics.ts", import.meta.url).href)
    };
      const r = new Registry();
      registerProcessMetrics(r);
      console.log(r.render());`;
    // Bun has no permissions: the same module, in this process, reads /proc (checked above).
    if (!deno) return assert.ok(!LINUX || registerAndRender().includes("process_open_fds "));
    // No --allow-read, and a terminal-less stdin: a permission prompt would fail the run.
    const dir = mkdtempSync(join(tmpdir(), "pm-deno-"));
    const file = join(dir, "scrape.ts");
    writeFileSync(file, script);
    // Through a shell (Deno's node:child_process rewrites a spawn of Deno itself to `deno run -A`),
    // and with an empty environment (under `npx deno`, npm's variables make a child Deno grant
    // everything, and Deno's spawn adds the parent's environment to the one given).
    // The repository's deno.json resolves the registry's imports (loading modules needs no permission).
    const r = spawnSync("bash", ["-c", 'exec env -i HOME="$HOME" "$DENO" run --config "$CONFIG" "$SCRIPT"'], {
      cwd: dir,
      env: {
        HOME: process.env.HOME ?? dir,
        DENO: process.execPath,
        SCRIPT: file,
        CONFIG: new URL("../../../deno.json", import.meta.url).pathname,
      },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(
      r.stdout + r.stderr,
      /process_open_fds|process_max_fds|process_virtual_memory|prompt/i,
    );
    assert.match(r.stdout, /^process_resident_memory_bytes \d+$/m);
    assert.match(r.stdout, /^process_cpu_seconds_total [\d.e-]+$/m);
  });

  it("parses /proc/self/limits and /proc/self/stat as the kernel writes them", () => {
    assert.equal(
      parseMaxFds(
        "Limit                     Soft Limit           Hard Limit           Units     \n" +
          "Max cpu time              unlimited            unlimited            seconds   \n" +
          "Max open files            20000                20000                files     \n",
      ),
      20000,
    );
    assert.equal(
      parseMaxFds("Max open files            unlimited            unlimited            files\n"),
      undefined,
    );
    assert.equal(parseMaxFds(""), undefined);
    const stat = "3920 (deno) R 3919 3905 330 0 -1 4194304 4041 0 2 0 3 1 0 0 20 0 6 0 994270 18599432192 " +
      "10780 18446744073709551615 94473405886464";
    assert.equal(parseVsize(stat), 18599432192);
    assert.equal(parseVsize("1 (x) R 2"), undefined);
  });
});
