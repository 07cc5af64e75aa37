/** Kubernetes quantities parsed exactly (lib/dataflow/quantity.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareQuantities, isQuantity, parseQuantity } from "../../../lib/dataflow/quantity.ts";

const NANO = 1_000_000_000n;

describe("parseQuantity", () => {
  it("reads decimal SI suffixes, in nano-units", () => {
    const cases: Array<[string | number, bigint]> = [
      ["0", 0n],
      ["1", NANO],
      ["500m", 500_000_000n],
      ["0.5", 500_000_000n],
      [".5", 500_000_000n],
      ["1.", NANO],
      ["+2", 2n * NANO],
      ["250u", 250_000n],
      ["7n", 7n],
      ["1k", 1_000n * NANO],
      ["2M", 2_000_000n * NANO],
      ["3G", 3n * 10n ** 9n * NANO],
      ["1T", 10n ** 12n * NANO],
      ["1P", 10n ** 15n * NANO],
      ["1E", 10n ** 18n * NANO],
      [64, 64n * NANO],
      [0.25, 250_000_000n],
      ["-1", -NANO],
    ];
    for (const [q, want] of cases) assert.equal(parseQuantity(q), want, String(q));
  });

  it("reads binary SI suffixes exactly", () => {
    assert.equal(parseQuantity("1Ki"), 1024n * NANO);
    assert.equal(parseQuantity("128Mi"), 128n * 2n ** 20n * NANO);
    assert.equal(parseQuantity("8Gi"), 8n * 2n ** 30n * NANO);
    assert.equal(parseQuantity("512Gi"), 512n * 2n ** 30n * NANO);
    assert.equal(parseQuantity("1Ti"), 2n ** 40n * NANO);
    assert.equal(parseQuantity("1.5Gi"), 3n * 2n ** 29n * NANO);
    assert.equal(parseQuantity("1Pi"), 2n ** 50n * NANO);
    assert.equal(parseQuantity("1Ei"), 2n ** 60n * NANO);
  });

  it("reads decimal exponents, telling 1E (exa) from 1E3", () => {
    assert.equal(parseQuantity("1e3"), 1_000n * NANO);
    assert.equal(parseQuantity("1E3"), 1_000n * NANO);
    assert.equal(parseQuantity("1.5e+2"), 150n * NANO);
    assert.equal(parseQuantity("5e-1"), 500_000_000n);
    assert.equal(parseQuantity(1e21), 10n ** 21n * NANO); // String(1e21) is "1e+21"
    assert.equal(parseQuantity("1E"), 10n ** 18n * NANO);
  });

  it("rounds a value finer than a nano-unit up, as the API server does", () => {
    assert.equal(parseQuantity("0.1n"), 1n);
    assert.equal(parseQuantity("1.0000000001"), NANO + 1n);
    assert.equal(parseQuantity("1e-30"), 1n);
  });

  it("refuses what is not a quantity", () => {
    for (
      const q of ["", "lots", "1.2.3", "12 Mi", "1e", "1e1.5", "１００m", "1KI", "1kb", "Mi", "--1", "1e999"]
    ) {
      assert.equal(parseQuantity(q), undefined, JSON.stringify(q));
      assert.equal(isQuantity(q), false, JSON.stringify(q));
    }
    for (const q of [null, undefined, true, {}, [], NaN, Infinity]) assert.equal(parseQuantity(q), undefined);
  });
});

describe("compareQuantities", () => {
  it("compares by value across spellings", () => {
    assert.equal(compareQuantities("4000m", "4"), 0);
    assert.equal(compareQuantities("4001m", "4"), 1);
    assert.equal(compareQuantities("3999999999n", 4), -1);
    assert.equal(compareQuantities("1Gi", "1G"), 1); // 1073741824 > 1000000000
    assert.equal(compareQuantities("8192Mi", "8Gi"), 0);
    assert.equal(compareQuantities("8589934593", "8Gi"), 1); // one byte more
    assert.equal(compareQuantities("64", "4"), 1);
    assert.equal(compareQuantities("0.5", "500m"), 0);
    assert.equal(compareQuantities("lots", "4"), undefined);
  });
});
