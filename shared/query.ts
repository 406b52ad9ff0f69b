/**
 * Numbers in a query string or a path, as people write them: decimal digits, an optional minus sign. `Number()` (and
 * so `z.coerce.number()`) also takes "0x10", "1e3", "0b1", " 7 " and "" (as 0); these are refused here, with the
 * field's own message. Numbers given as numbers (a caller in the same process) pass as they are.
 */
import { z } from 'zod';

const DECIMAL = /^-?\d{1,16}$/;

/** An integer from `min` to `max` written in decimal; `message` is the one error every bad value gets. */
export function decimalInt(min: number, max: number = Number.MAX_SAFE_INTEGER, message?: string) {
  const m = message ?? (max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}` : `expected an integer ${min}–${max}`);
  return z.preprocess(
    (v) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v),
    z.number({ error: m }).int({ error: m }).min(min, m).max(max, m),
  );
}
