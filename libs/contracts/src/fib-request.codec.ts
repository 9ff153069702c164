import { RpcErrorCode } from './rpc-error-code';

/** A request body (or HTTP parameter) that is not a valid n; `code` is the wire error code. */
export class FibArgumentError extends Error {
  override readonly name = 'FibArgumentError';

  constructor(
    readonly code: typeof RpcErrorCode.INVALID_ARGUMENT | typeof RpcErrorCode.OUT_OF_RANGE,
    message: string,
  ) {
    super(message);
  }
}

const SHOWN_CHARS = 32;
// More significant digits than this are certainly above any safe FIB_MAX_N; no need to parse them.
const MAX_DIGITS = 15;

/**
 * Strict parse of n: only a non-empty string of ASCII decimal digits is valid
 * ("30", "007"); signs, fractions, exponents, whitespace or any other byte are
 * INVALID_ARGUMENT, digits above `maxN` are OUT_OF_RANGE.
 */
export function parseFibN(text: string, maxN: number): number {
  const length = text.length;
  if (length === 0) {
    throw new FibArgumentError(RpcErrorCode.INVALID_ARGUMENT, 'n is empty; expected a decimal integer');
  }
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) {
      throw new FibArgumentError(
        RpcErrorCode.INVALID_ARGUMENT,
        `n must be a non-negative decimal integer, got ${show(text)}`,
      );
    }
  }
  let first = 0;
  while (first < length - 1 && text.charCodeAt(first) === 48) first++;
  const n = length - first > MAX_DIGITS ? Number.POSITIVE_INFINITY : Number(text);
  if (n > maxN) {
    throw new FibArgumentError(RpcErrorCode.OUT_OF_RANGE, `n must be at most ${maxN}, got ${show(text)}`);
  }
  return n;
}

/** Request body for n: ASCII decimal, as in the tutorial. */
export function encodeFibRequest(n: number): Buffer {
  return Buffer.from(String(n), 'latin1');
}

function show(text: string): string {
  const head = text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}… (${text.length} chars)` : text;
  return JSON.stringify(head);
}
