import { fib } from './fib';

describe('fib', () => {
  it.each([
    [0, 0n],
    [1, 1n],
    [2, 1n],
    [3, 2n],
    [10, 55n],
    [30, 832040n],
    [90, 2880067194370816120n],
    [100, 354224848179261915075n],
  ])('fib(%i) = %s', (n, expected) => {
    expect(fib(n)).toBe(expected);
  });

  it('agrees with the plain recurrence for n up to 300', () => {
    let [a, b] = [0n, 1n];
    for (let n = 0; n <= 300; n++) {
      expect(fib(n)).toBe(a);
      [a, b] = [b, a + b];
    }
  });

  it('satisfies F(2k) = F(k)(2F(k+1) - F(k)) and F(2k+1) = F(k)^2 + F(k+1)^2 at k = 50000', () => {
    const k = 50_000;
    const fk = fib(k);
    const fk1 = fib(k + 1);
    expect(fib(2 * k)).toBe(fk * (2n * fk1 - fk));
    expect(fib(2 * k + 1)).toBe(fk * fk + fk1 * fk1);
  });

  it('gives F(100000) with 20899 decimal digits', () => {
    const digits = fib(100_000).toString();
    expect(digits).toHaveLength(20_899);
    expect(digits.startsWith('2597406934722172416615503')).toBe(true);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 53])('rejects %p', (n) => {
    expect(() => fib(n)).toThrow(RangeError);
  });
});
