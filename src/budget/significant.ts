/**
 * `x` to `digits` significant digits as toPrecision writes them ("8.00"), but never in exponent
 * notation: toPrecision writes 99.96 to two digits as "1.0e+2", which a reason shown to a user
 * should not say ("100").
 */
export function significant(x: number, digits: number): string {
  const s = x.toPrecision(digits);
  return s.includes('e') ? x.toFixed(0) : s;
}
