/**
 * Kubernetes resource quantities (`500m`, `4`, `8Gi`, `1.5e3`), parsed exactly: the value in
 * nano-units as a bigint, so `4000m` equals `4` and `1Gi` is more than `1G` without any floating
 * point rounding. Used to compare a DataFlow's resources with the operator's maxima (policy.ts).
 *
 * The grammar is the API server's: an optionally signed decimal number, then at most one suffix:
 * a binary SI suffix (`Ki` `Mi` `Gi` `Ti` `Pi` `Ei`), a decimal SI suffix (`n` `u` `m` `k` `M` `G`
 * `T` `P` `E`) or a decimal exponent (`e3`, `E-2`; an integer). As in Kubernetes, a value finer
 * than one nano-unit is rounded up (`0.1n` is `1n`).
 */

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** Decimal exponents beyond this are refused as out of range (a quantity of 10^100 means nothing). */
const MAX_EXPONENT = 100;

/**
 * The value of a quantity in nano-units (`1` → 1_000_000_000n, `500m` → 500_000_000n), or
 * undefined when `q` is not a quantity (or is absurdly large). Numbers are taken as written.
 */
export function parseQuantity(q: unknown): bigint | undefined {
  let text: string;
  if (typeof q === "number") {
    if (!Number.isFinite(q)) return undefined;
    text = String(q);
  } else if (typeof q === "string") text = q.trim();
  else return undefined;
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign, number, suffix = ""] = m;
  const [whole, fraction = ""] = number.split(".");
  let mantissa = BigInt((whole || "0") + fraction);
  let exponent = 9 - fraction.length; // to nano-units
  let binary = 0;
  if (suffix in BINARY_SUFFIX) binary = BINARY_SUFFIX[suffix];
  else if (suffix in DECIMAL_SUFFIX) exponent += DECIMAL_SUFFIX[suffix];
  else if (suffix) {
    const e = Number(suffix.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > MAX_EXPONENT) return undefined;
    exponent += e;
  }
  mantissa <<= BigInt(binary);
  let value: bigint;
  if (exponent >= 0) value = mantissa * 10n ** BigInt(exponent);
  else {
    const divisor = 10n ** BigInt(-exponent);
    value = (mantissa + divisor - 1n) / divisor; // rounded up, as the API server does
  }
  return sign === "-" ? -value : value;
}

/** Whether `q` is a quantity {@link parseQuantity} understands. */
export function isQuantity(q: unknown): boolean {
  return parseQuantity(q) !== undefined;
}

/**
 * Compares two quantities: negative when a < b, 0 when equal, positive when a > b; undefined when
 * either is not a quantity.
 */
export function compareQuantities(a: unknown, b: unknown): number | undefined {
  const x = parseQuantity(a), y = parseQuantity(b);
  if (x === undefined || y === undefined) return undefined;
  return x < y ? -1 : x > y ? 1 : 0;
}
