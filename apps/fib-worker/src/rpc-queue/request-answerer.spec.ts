import { logTraceFields, showSpanInLogs } from '@app/observability';
import pino from 'pino';
import { AnswerLine, writeAnswerLine } from './request-answerer';

/** A logger set up as loggerOptions sets it up, writing into an array; a fixed time. */
function capturingLogger(level: string, options: pino.LoggerOptions = {}): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  const log = pino(
    { level, base: { app: 'fib-worker' }, mixin: logTraceFields, timestamp: () => ',"time":42', ...options },
    stream,
  );
  return { log, lines };
}

const answered: AnswerLine = {
  context: 'RpcQueueServer',
  correlationId: '0tn7Tz6x.2',
  requestId: '9e1c0b5e-5b7c-4f4e-9f0e-0c8e2a1b3c4d',
  traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  n: '30',
  outcome: 'ok',
  reply: undefined,
  redelivered: undefined,
  durationMs: 0.123,
};

describe('writeAnswerLine', () => {
  const cases: Array<[string, AnswerLine]> = [
    ['an answered request', answered],
    [
      'a tutorial peer (no ids), redelivered, reply refused',
      {
        ...answered,
        correlationId: undefined,
        requestId: undefined,
        traceparent: undefined,
        redelivered: true,
        reply: 'undeliverable',
        outcome: 'BAD_REQUEST',
      },
    ],
    [
      'odd bytes in n, quotes and controls in ids',
      {
        ...answered,
        correlationId: 'a"b\\c\u0001',
        requestId: 'é\u2028',
        n: '\u0000\u00ff"x',
        durationMs: NaN,
      },
    ],
    ['a header of another AMQP type (left to pino)', { ...answered, requestId: 42, traceparent: Buffer.from('x') }],
  ];

  it.each(cases)('writes what pino writes: %s', (_, fields) => {
    const ours = capturingLogger('info');
    const theirs = capturingLogger('info');
    writeAnswerLine(ours.log, fields);
    theirs.log.info(fields, 'rpc answered');
    expect(ours.lines).toEqual(theirs.lines);
    expect(JSON.parse(ours.lines[0])).toMatchObject({ app: 'fib-worker', msg: 'rpc answered', n: fields.n });
  });

  it.each(cases)('writes what pino writes with a span shown: %s', (_, fields) => {
    const ours = capturingLogger('info');
    const theirs = capturingLogger('info');
    showSpanInLogs({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    writeAnswerLine(ours.log, fields);
    theirs.log.info(fields, 'rpc answered');
    expect(ours.lines).toEqual(theirs.lines);
    expect(JSON.parse(ours.lines[0])).toMatchObject({ span_id: 'b7ad6b7169203331', trace_flags: '01' });
  });

  it('leaves a logger with another mixin to pino, and writes nothing above info', () => {
    const other = capturingLogger('info', { mixin: () => ({ tenant: 't' }) });
    writeAnswerLine(other.log, answered);
    expect(JSON.parse(other.lines[0])).toMatchObject({ tenant: 't', outcome: 'ok' });
    const quiet = capturingLogger('warn');
    writeAnswerLine(quiet.log, answered);
    expect(quiet.lines).toEqual([]);
  });
});
