import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { serializeSpans } from './otlp-protobuf.serializer';
import { ProtobufBuffer } from './otlp-protobuf.writer';

/** Spans of every shape the encoder meets: ours (attributes, events, error status, remote parent) and odd ones. */
function sampleSpans(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'gateway', 'host.arch': 'x64', 'process.pid': 4321 }),
    spanProcessors: [
      {
        onStart: () => undefined,
        onEnd: (span) => ended.push(span),
        forceFlush: () => Promise.resolve(),
        shutdown: () => Promise.resolve(),
      },
    ],
  });
  const tracer = provider.getTracer('fib-rpc');
  const other = provider.getTracer('other', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.27.0' });
  const w3c = new W3CTraceContextPropagator();
  const remote = w3c.extract(
    ROOT_CONTEXT,
    { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=x,other=y' },
    { keys: (c) => Object.keys(c), get: (c, k) => (c as Record<string, string>)[k] },
  );
  const http = tracer.startSpan('GET /fib/:n', { kind: SpanKind.SERVER }, remote);
  http.setAttributes({
    'http.request.method': 'GET',
    'url.path': '/fib/30',
    'server.port': 3000,
    'url.scheme': 'http',
  });
  const call = tracer.startSpan('send rpc_queue', { kind: SpanKind.CLIENT }, trace.setSpan(remote, http));
  call.setAttributes({
    'messaging.system': 'rabbitmq',
    'messaging.message.conversation_id': 'c0ffee-1234',
    'messaging.message.body.size': 2,
    'fib.n': 30,
  });
  call.addEvent('resent', { 'messaging.message.conversation_id': 'c0ffee-5678' });
  call.addEvent('held');
  call.setStatus({ code: SpanStatusCode.ERROR, message: 'REMOTE OUT_OF_RANGE' });
  call.setAttribute('error.type', 'REMOTE');
  call.end();
  http.setAttribute('http.response.status_code', 502);
  http.end();
  const odd = other.startSpan('ünïcödé ' + 'x'.repeat(200), {
    attributes: {
      big: 2 ** 40,
      negative: -5,
      ratio: 0.25,
      flag: true,
      list: ['a', 'b'],
      numbers: [1, 2.5],
      long: 'y'.repeat(300),
      emoji: '🙂',
    },
    links: [
      {
        context: {
          traceId: 'AAAABBBBCCCCDDDDEEEEFFFF00001111',
          spanId: '0123456789ABCDEF',
          traceFlags: TraceFlags.NONE,
        },
        attributes: { why: 'batch' },
      },
    ],
  });
  odd.end();
  const root = tracer.startSpan('process rpc_queue', { kind: SpanKind.SERVER, root: true });
  root.setAttributes(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`attribute.${i}`, `value ${i}`])));
  root.end();
  return ended;
}

describe('serializeSpans (OTLP protobuf)', () => {
  it('encodes the same bytes as OpenTelemetry’s ProtobufTraceSerializer', () => {
    const spans = sampleSpans();
    expect(spans).toHaveLength(4);
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) ?? []);
    expect(Buffer.from(serializeSpans(spans)).equals(expected)).toBe(true);
  });

  it('encodes a batch larger than its starting buffer, and an empty one, the same', () => {
    const spans = sampleSpans();
    const batch = Array.from({ length: 2000 }, (_, i) => spans[i % spans.length]);
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(batch) ?? []);
    expect(expected.length).toBeGreaterThan(256 * 1024);
    expect(Buffer.from(serializeSpans(batch)).equals(expected)).toBe(true);
    expect(Buffer.from(serializeSpans([]))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest([]) ?? []));
  });

  it('returns a copy: the next batch does not change what an export still holds', () => {
    const spans = sampleSpans();
    const first = serializeSpans(spans.slice(0, 1));
    const before = Buffer.from(first);
    serializeSpans(spans.slice(2));
    expect(Buffer.from(first).equals(before)).toBe(true);
  });

  it('lets a buffer grown for one huge batch go at the next batch', () => {
    const buffer = new ProtobufBuffer();
    const start = buffer.capacity;
    buffer.reset();
    buffer.string('x'.repeat(3 * 1024 * 1024));
    expect(buffer.capacity).toBeGreaterThan(3 * 1024 * 1024);
    buffer.reset();
    expect(buffer.capacity).toBe(start);
    buffer.string('ok');
    expect(Array.from(buffer.bytes())).toEqual([2, 111, 107]);
  });
});
