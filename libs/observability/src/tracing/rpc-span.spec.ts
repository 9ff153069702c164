import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { ConsumeMessage } from 'amqplib';
import type { FastifyInstance } from 'fastify';
import { traceHttpServer } from './http-server.span';
import { LogTraceFields, logTraceFields } from './log-trace.mixin';
import { startRpcClientSpan } from './rpc-client.span';
import { RpcServerSpan, withRpcServerSpan } from './rpc-server.span';
import { tracingActive } from './tracing.active';
import { startTracing, Tracing } from './tracing.sdk';

const message = (headers?: Record<string, unknown>): ConsumeMessage =>
  ({
    content: Buffer.from('7'),
    fields: { routingKey: 'q', redelivered: false },
    properties: { headers, correlationId: 'c1' },
  }) as unknown as ConsumeMessage;

describe('RPC span helpers', () => {
  describe('without an SDK', () => {
    it('are shared no-ops: nothing allocated per call, headers untouched', async () => {
      expect(tracingActive()).toBe(false);
      const a = startRpcClientSpan('q', Buffer.from('1'));
      expect(startRpcClientSpan('q', Buffer.from('2'))).toBe(a);
      const headers: Record<string, unknown> = { 'x-deadline': 1 };
      a.sent(headers, 'c1');
      expect(headers).toEqual({ 'x-deadline': 1 });
      const reply = Promise.resolve('ok');
      expect(a.endWith(reply)).toBe(reply);
      const seen: unknown[] = [];
      withRpcServerSpan('q', message(), (span) => seen.push(span, trace.getActiveSpan()));
      withRpcServerSpan('q', message(), (span) => seen.push(span));
      expect(seen[0]).toBe(seen[2]);
      expect(seen[1]).toBeUndefined();
      await reply;
      const addHook = jest.fn();
      traceHttpServer({ addHook } as unknown as FastifyInstance);
      expect(addHook).not.toHaveBeenCalled();
      expect(logTraceFields()).toEqual({});
    });
  });

  describe('with an SDK', () => {
    let exporter: InMemorySpanExporter;
    let tracing: Tracing;

    // A new exporter each time: shutting the SDK down stops its exporter for good.
    beforeEach(() => (exporter = new InMemorySpanExporter()));
    afterEach(() => tracing.shutdown());

    it('a sampled-out call is still propagated (flags 00): the worker then makes the same decision', async () => {
      tracing = startTracing({
        serviceName: 't',
        sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const span = startRpcClientSpan('q', Buffer.from('5'));
      const headers: Record<string, unknown> = {};
      span.sent(headers, 'c1');
      expect(headers.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/);
      await span.endWith(Promise.resolve('5'));
      withRpcServerSpan('q', message(headers), (server) => server.end('ok'));
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    });

    it('a re-send is an event, a held call too, and the re-send carries the same context', async () => {
      tracing = startTracing({
        serviceName: 't',
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
      const span = startRpcClientSpan('q', Buffer.from('5'));
      span.event('held');
      const first: Record<string, unknown> = {};
      const second: Record<string, unknown> = {};
      span.sent(first, 'c1');
      // a re-send happens in whatever context the reconnect runs in
      context.with(propagation.extract(context.active(), {}), () => span.sent(second, 'c1'));
      expect(second.traceparent).toBe(first.traceparent);
      await span
        .endWith(Promise.reject(Object.assign(new Error('x'), { code: 'CONNECTION_LOST' })))
        .catch(() => undefined);
      const [finished] = exporter.getFinishedSpans();
      expect(finished.events.map((event) => event.name)).toEqual(['held', 'resent']);
      expect(finished.attributes['error.type']).toBe('CONNECTION_LOST');
    });

    it("the client span is the child of the context passed; the worker's log lines carry its span until the next microtask", async () => {
      tracing = startTracing({ serviceName: 't', spanProcessors: [new SimpleSpanProcessor({ exporter })] });
      const parent = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` });
      const client = startRpcClientSpan('q', Buffer.from('5'), parent);
      const headers: Record<string, unknown> = {};
      client.sent(headers, 'c1');
      await client.endWith(Promise.resolve('5'));
      const [clientSpan] = exporter.getFinishedSpans();
      expect(clientSpan.spanContext().traceId).toBe('a'.repeat(32));
      expect(clientSpan.parentSpanContext?.spanId).toBe('b'.repeat(16));

      let during: LogTraceFields = {};
      let server: RpcServerSpan | undefined;
      withRpcServerSpan('q', message(headers), (span) => {
        during = logTraceFields();
        server = span;
      });
      await Promise.resolve();
      expect(logTraceFields()).toEqual({});
      server?.end('ok');
      const afterEnd = logTraceFields();
      await Promise.resolve();
      const serverSpan = exporter.getFinishedSpans()[1];
      const ids = { trace_id: 'a'.repeat(32), span_id: serverSpan.spanContext().spanId, trace_flags: '01' };
      expect(during).toEqual(ids);
      expect(afterEnd).toEqual(ids);
      expect(logTraceFields()).toEqual({});
    });
  });
});
