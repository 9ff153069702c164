/**
 * Exact Fibonacci number F(n) by fast doubling:
 *   F(2k)   = F(k) * (2F(k+1) - F(k))
 *   F(2k+1) = F(k)^2 + F(k+1)^2
 * O(log n) BigInt multiplications, so F(100000) takes milliseconds.
 */
export function fib(n: number): bigint {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`fib(n) needs a non-negative safe integer, got ${n}`);
  }
  let a = 0n; // F(k)
  let b = 1n; // F(k+1)
  for (let bit = highestBit(n); bit > 0; bit = Math.floor(bit / 2)) {
    const c = a * (2n * b - a);
    const d = a * a + b * b;
    if (Math.floor(n / bit) % 2 === 1) {
      a = d;
      b = c + d;
    } else {
      a = c;
      b = d;
    }
  }
  return a;
}

function highestBit(n: number): number {
  let bit = 1;
  while (bit * 2 <= n) bit *= 2;
  return n === 0 ? 0 : bit;
}
