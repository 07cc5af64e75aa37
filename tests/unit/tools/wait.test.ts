/** The tests' one wait helper: returns the probe's first ready value; fails loudly otherwise. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../../tools/wait.ts";

describe("waitFor", () => {
  it("returns the first value that is not undefined, null or false; a throwing probe counts as not yet", async () => {
    let calls = 0;
    const v = await waitFor("the third call", () => {
      calls++;
      if (calls === 1) throw new Error("not up yet");
      return calls === 2 ? false : 0;
    }, { intervalMs: 1 });
    assert.equal(v, 0);
    assert.equal(calls, 3);
  });

  it("names what it waited for, the probe's last error and the description on timeout", async () => {
    await assert.rejects(
      waitFor("the moon", () => {
        throw new Error("no rocket");
      }, { timeoutMs: 0, describe: () => "state: grounded" }),
      /timed out after 0 ms waiting for the moon \(last error: no rocket\)\nstate: grounded/,
    );
  });

  it("fails at once when abortIf says the thing under test is gone", async () => {
    let probed = false;
    await assert.rejects(
      waitFor("a ready pod", () => {
        probed = true;
        return undefined;
      }, { abortIf: () => "the container exited" }),
      /^Error: the container exited while waiting for a ready pod$/,
    );
    assert.equal(probed, false);
  });
});
