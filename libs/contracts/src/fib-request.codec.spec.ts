import { encodeFibRequest, FibArgumentError, parseFibN } from './fib-request.codec';
import { RpcErrorCode } from './rpc-error-code';

const MAX = 100_000;

function codeOf(text: string): string {
  try {
    parseFibN(text, MAX);
  } catch (error) {
    if (error instanceof FibArgumentError) return error.code;
    throw error;
  }
  return 'OK';
}

describe('parseFibN', () => {
  it.each([
    ['0', 0],
    ['30', 30],
    ['007', 7],
    ['0000000000000000000000030', 30],
    ['100000', 100_000],
  ])('accepts %p as %i', (text, n) => {
    expect(parseFibN(text, MAX)).toBe(n);
  });

  it.each([
    '',
    '-1',
    '+1',
    '1.5',
    '1e3',
    '0x10',
    ' 30',
    '30 ',
    '30\n',
    'abc',
    '\u0000',
    '\u00ff\u00fe',
    '٣',
    'Infinity',
    'NaN',
    '1_000',
  ])('rejects %p as INVALID_ARGUMENT', (text) => {
    expect(codeOf(text)).toBe(RpcErrorCode.INVALID_ARGUMENT);
  });

  it.each(['100001', '9007199254740993', '9'.repeat(1 << 20)])('rejects %p as OUT_OF_RANGE', (text) => {
    expect(codeOf(text.slice(0, 20))).toBe(RpcErrorCode.OUT_OF_RANGE);
    expect(codeOf(text)).toBe(RpcErrorCode.OUT_OF_RANGE);
  });

  it('keeps the error message short for a huge body', () => {
    expect(() => parseFibN('x'.repeat(1 << 20), MAX)).toThrow(/^.{0,120}$/);
  });

  it('honours a smaller max', () => {
    expect(parseFibN('10', 10)).toBe(10);
    expect(() => parseFibN('11', 10)).toThrow(FibArgumentError);
  });
});

describe('encodeFibRequest', () => {
  it('is the ASCII decimal body of the tutorial', () => {
    expect(encodeFibRequest(30).toString('latin1')).toBe('30');
  });
});
