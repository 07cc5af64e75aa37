/** An idle recorder never keeps a process alive: its timers are unref'd on Deno, Bun and Node. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

describe("process lifetime", () => {
  it("exits although an hour-long count update is pending", { timeout: 120_000 }, () => {
    const fixture = fileURLToPath(new URL("./idle_exit_fixture.ts", import.meta.url));
    const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
    const args = isDeno ? ["run", "-A", fixture] : [fixture];
    // The kill is a safety net for a broken build (a timer holding the process for its hour), not a
    // measurement: the fixture either exits by itself or would run for an hour.
    const child = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 100_000 });
    assert.equal(child.signal, null, "the process had to be killed: a timer kept it alive");
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /armed, pending=1/);
  });
});
