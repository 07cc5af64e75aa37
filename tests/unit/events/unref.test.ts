/** An idle recorder never keeps a process alive: its timers are unref'd on Deno, Bun and Node. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

describe("process lifetime", () => {
  it("exits at once although a 30 s count update is pending", { timeout: 60_000 }, () => {
    const fixture = fileURLToPath(new URL("./idle_exit_fixture.ts", import.meta.url));
    const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
    const args = isDeno ? ["run", "-A", fixture] : [fixture];
    const started = performance.now();
    const child = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 25_000 });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /armed, pending=1/);
    assert.ok(seconds < 20, `took ${seconds} s: a timer kept the process alive`);
  });
});
