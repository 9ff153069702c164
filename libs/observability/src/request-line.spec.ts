import pino from 'pino';
import pinoHttp, { Options as PinoHttpOptions } from 'pino-http';
import { infoLineStart } from './info-line';
import { loggerOptions } from './logger.options';
import { RequestLine, writeRequestLine } from './request-line';
import { logTraceFields, showSpanInLogs } from './tracing/log-trace.mixin';

/** A logger set up as loggerOptions sets it up, writing into an array; a fixed time. */
function capturingLogger(level: string): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  const log = pino({ level, base: { app: 'gateway' }, mixin: logTraceFields, timestamp: () => ',"time":42' }, stream);
  return { log, lines };
}

describe('writeRequestLine', () => {
  const cases: Array<[string, RequestLine]> = [
    ['an answered call', new RequestLine('req-1', 'GET', '/fib/30', 200, 1.234, 30, '0tn7Tz6x.2', 'ok')],
    [
      'a traced call',
      new RequestLine(
        'a/b:c@d+e=f.g_h-i',
        'HEAD',
        '/fib/7',
        504,
        5000.5,
        7,
        'x.y',
        'TIMEOUT',
        '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01',
      ),
    ],
    ['no trace (a 404)', new RequestLine('9e1c0b5e-5b7c-4f4e-9f0e-0c8e2a1b3c4d', 'GET', '/nope', 404, 0.5)],
    ['quotes, backslashes and controls in the URL', new RequestLine('r', 'GET', '/fib/"\\\u0001\t\n', 400, 0.001)],
    ['a long URL, cut', new RequestLine('r', 'GET', `/fib/${'9'.repeat(256)}…`, 400, 12)],
    ['non-ASCII', new RequestLine('r', 'GET', '/fib/é\u2028ÿ', 400, 3)],
    ['numbers JSON cannot hold (null, as pino writes them)', new RequestLine('r', 'GET', '/fib/1', 200, NaN, Infinity)],
  ];

  it.each(cases)('writes what pino writes: %s', (_, line) => {
    const message = `${line.method} ${line.url} ${line.statusCode}`;
    const ours = capturingLogger('info');
    const theirs = capturingLogger('info');
    writeRequestLine(ours.log, line, message);
    theirs.log.info(line, message);
    expect(ours.lines).toEqual(theirs.lines);
    expect(JSON.parse(ours.lines[0])).toMatchObject({ app: 'gateway', msg: message, requestId: line.requestId });
  });

  it.each(cases)('writes what pino writes with a span shown (its trace fields first): %s', (_, line) => {
    const message = `${line.method} ${line.url} ${line.statusCode}`;
    const ours = capturingLogger('info');
    const theirs = capturingLogger('info');
    showSpanInLogs({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    writeRequestLine(ours.log, line, message);
    theirs.log.info(line, message);
    expect(ours.lines).toEqual(theirs.lines);
    expect(JSON.parse(ours.lines[0])).toMatchObject({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
      trace_flags: '01',
    });
  });

  it.each<[string, pino.LoggerOptions]>([
    ['another mixin', { mixin: () => ({ tenant: 't' }) }],
    ['a log formatter', { formatters: { log: (o: object) => ({ ...o, x: 1 }) } }],
    ['a serializer of a field', { serializers: { url: () => '[url]' } }],
    ['another message key', { messageKey: 'message' }],
    ['a nested key', { nestedKey: 'payload' }],
    ['redaction', { redact: ['requestId'] }],
    [
      'a logMethod hook',
      {
        hooks: {
          logMethod(this: pino.Logger, args: Parameters<pino.LogFn>, method: pino.LogFn) {
            return method.apply(this, [args[0], `hooked ${String(args[1])}`] as Parameters<pino.LogFn>);
          },
        },
      },
    ],
    ['a streamWrite hook', { hooks: { streamWrite: (line: string) => line.replace('"GET"', '"get"') } }],
    ['a message prefix', { msgPrefix: '[gw] ' }],
  ])('leaves a logger set up otherwise to pino: %s', (_, options) => {
    const line = new RequestLine('r', 'GET', '/fib/1', 200, 1);
    const ours: string[] = [];
    const theirs: string[] = [];
    const logger = (into: string[]): pino.Logger =>
      pino(
        { mixin: logTraceFields, ...options, timestamp: () => ',"time":42' },
        { write: (l: string) => void into.push(l) },
      );
    writeRequestLine(logger(ours), line, 'GET /fib/1 200');
    logger(theirs).info(line, 'GET /fib/1 200');
    expect(ours).toEqual(theirs);
  });

  it('leaves a stream that reads line metadata (pino.multistream) to pino', () => {
    const line = new RequestLine('r', 'GET', '/fib/1', 200, 1);
    const write = (into: string[]): void => {
      const multi = pino.multistream([{ level: 'info', stream: { write: (l: string) => void into.push(l) } }]);
      const log = pino({ mixin: logTraceFields, timestamp: () => ',"time":42' }, multi);
      if (into === ours) writeRequestLine(log, line, 'GET /fib/1 200');
      else log.info(line, 'GET /fib/1 200');
    };
    const ours: string[] = [];
    const theirs: string[] = [];
    write(ours);
    write(theirs);
    expect(ours).toHaveLength(1);
    expect(ours).toEqual(theirs);
  });

  it("takes the template for the apps' own logger (loggerOptions through nestjs-pino's pino-http)", () => {
    const [options] = loggerOptions('gateway', 'info').pinoHttp as [PinoHttpOptions, unknown];
    const { logger } = pinoHttp(options, { write: () => undefined });
    expect(infoLineStart(logger)).toMatch(/^\{"level":30,"time":\d+,"app":"gateway"$/);
  });

  it('writes nothing above info', () => {
    const { log, lines } = capturingLogger('warn');
    writeRequestLine(log, new RequestLine('r', 'GET', '/fib/1', 200, 1), 'GET /fib/1 200');
    expect(lines).toEqual([]);
  });
});
