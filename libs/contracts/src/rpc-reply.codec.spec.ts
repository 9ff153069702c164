import { decodeErrorReply, encodeErrorReply } from './rpc-reply.codec';

describe('error reply codec', () => {
  it('round-trips the contract body', () => {
    const body = encodeErrorReply('OUT_OF_RANGE', 'too big');
    expect(JSON.parse(body.toString())).toEqual({ code: 'OUT_OF_RANGE', message: 'too big' });
    expect(decodeErrorReply(body)).toEqual({ code: 'OUT_OF_RANGE', message: 'too big' });
  });

  it.each(['not json', '{"code":"WHATEVER"}', 'null', '[]'])('turns %p into INTERNAL', (text) => {
    expect(decodeErrorReply(Buffer.from(text)).code).toBe('INTERNAL');
  });
});
