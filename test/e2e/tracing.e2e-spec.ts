import { startTracing, Tracing } from '@app/observability/tracing/tracing.sdk';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import request from 'supertest';
import { deleteQueues, openReplyCollector, ReplyCollector, uniqueQueue, waitFor } from '../support/broker';
import { startGateway, startWorker } from '../support/apps';
import { TutorialClient, TutorialServer } from '../support/tutorial-peers';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

const traceId = (span: ReadableSpan): string => span.spanContext().traceId;
const spanId = (span: ReadableSpan): string => span.spanContext().spanId;
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

/**
 * One trace per call across the real broker, with the SDK in this process
 * exporting to memory: the gateway's HTTP span, its RPC client span, the
 * worker's span, and the error and edge cases.
 */
describe('tracing (e2e)', () => {
  const exporter = new InMemorySpanExporter();
  const queue = uniqueQueue('trace');
  let tracing: Tracing;
  let gateway: NestFastifyApplication;
  let worker: NestFastifyApplication;

  /** The finished spans named `name`, once `count` of them are there. */
  async function spansNamed(name: string, count = 1): Promise<ReadableSpan[]> {
    const named = (): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === name);
    await waitFor(() => named().length >= count, 5000, `${count} span(s) ${name}`);
    return named();
  }

  /** Every finished span of `trace`, once the HTTP, client and worker spans have all ended. */
  async function treeOf(trace: string, size: number): Promise<ReadableSpan[]> {
    const of = (): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => traceId(span) === trace);
    await waitFor(() => of().length >= size, 5000, `${size} spans of trace ${trace}`);
    return of();
  }

  beforeAll(async () => {
    // Before the apps: the gateway adds its HTTP span hooks only when an SDK is registered.
    tracing = startTracing({
      serviceName: 'tracing-e2e',
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    worker = (await startWorker(queue, { fibMaxN: 1000 })).app;
    gateway = await startGateway(queue);
  });

  afterAll(async () => {
    await gateway?.close();
    await worker?.close();
    await deleteQueues(queue);
    await tracing?.shutdown();
  });

  beforeEach(() => exporter.reset());

  it('GET /fib/30 is one trace: HTTP server span → RPC client span → worker span, with the messaging attributes', async () => {
    const res = await request(gateway.getHttpServer()).get('/fib/30').expect(200);
    expect(res.body).toEqual({ n: 30, value: '832040' });
    const [http] = await spansNamed('GET /fib/:n');
    const tree = await treeOf(traceId(http), 3);
    expect(tree).toHaveLength(3);
    const client = tree.find((span) => span.name === `send ${queue}`) as ReadableSpan;
    const server = tree.find((span) => span.name === `process ${queue}`) as ReadableSpan;

    expect(http.kind).toBe(SpanKind.SERVER);
    expect(http.parentSpanContext).toBeUndefined();
    expect(http.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/fib/:n',
      'url.path': '/fib/30',
      'url.scheme': 'http',
      'http.response.status_code': 200,
    });
    expect(http.status.code).toBe(SpanStatusCode.UNSET);

    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(client)).toBe(spanId(http));
    expect(client.status.code).toBe(SpanStatusCode.UNSET);
    expect(client.attributes).toEqual({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': queue,
      'messaging.rabbitmq.destination.routing_key': queue,
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.message.conversation_id': expect.any(String),
      'messaging.message.body.size': 2,
      'fib.n': 30,
    });

    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentOf(server)).toBe(spanId(client));
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': queue,
      'messaging.rabbitmq.destination.routing_key': queue,
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.message.conversation_id': client.attributes['messaging.message.conversation_id'],
      'fib.n': 30,
    });
    // the worker's span is inside the client's, which is inside the HTTP request's
    expect(server.resource.attributes['service.name']).toBe('tracing-e2e');
  });

  it("an incoming traceparent is continued: the caller's trace id, its span the HTTP span's parent", async () => {
    await request(gateway.getHttpServer()).get('/fib/12').set('traceparent', TRACEPARENT).expect(200);
    const tree = await treeOf(CALLER_TRACE, 3);
    const http = tree.find((span) => span.kind === SpanKind.SERVER && span.name.startsWith('GET')) as ReadableSpan;
    const client = tree.find((span) => span.kind === SpanKind.CLIENT) as ReadableSpan;
    const server = tree.find((span) => span.name === `process ${queue}`) as ReadableSpan;
    expect(parentOf(http)).toBe(CALLER_SPAN);
    expect(parentOf(client)).toBe(spanId(http));
    expect(parentOf(server)).toBe(spanId(client));
  });

  it('a request sent straight to the worker with a traceparent and n over FIB_MAX_N: the worker span is its child, error with the code', async () => {
    const collector: ReplyCollector = await openReplyCollector();
    try {
      collector.channel.sendToQueue(queue, Buffer.from('1001'), {
        correlationId: 'raw-over-max',
        replyTo: collector.replyQueue,
        headers: { traceparent: TRACEPARENT },
      });
      await waitFor(() => collector.replies.has('raw-over-max'), 5000, 'the error reply');
      const reply = collector.replies.get('raw-over-max');
      const { code } = JSON.parse((reply?.content ?? Buffer.from('{}')).toString()) as { code: string };
      expect(reply?.properties.type).toBe('error');
      const [server] = await spansNamed(`process ${queue}`);
      expect(traceId(server)).toBe(CALLER_TRACE);
      expect(parentOf(server)).toBe(CALLER_SPAN);
      expect(server.status).toEqual({ code: SpanStatusCode.ERROR, message: code });
      expect(server.attributes).toMatchObject({
        'error.type': code,
        'messaging.message.conversation_id': 'raw-over-max',
        'fib.n': 1001,
      });
    } finally {
      await collector.connection.close();
    }
  });

  it('a tutorial-style request without headers starts a new trace at the worker (a root span)', async () => {
    const client = await TutorialClient.open();
    try {
      const reply = await client.call(queue, '20');
      expect(reply.body).toBe('6765');
      const [server] = await spansNamed(`process ${queue}`);
      expect(server.parentSpanContext).toBeUndefined();
      expect(server.attributes['messaging.message.conversation_id']).toBe(reply.properties.correlationId);
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
    } finally {
      await client.close();
    }
  });

  describe('calls that fail at the gateway', () => {
    const idle = uniqueQueue('trace-noworker');
    const slow = uniqueQueue('trace-slow');
    let noWorkerGateway: NestFastifyApplication;
    let slowGateway: NestFastifyApplication;
    let slowServer: TutorialServer;

    beforeAll(async () => {
      noWorkerGateway = await startGateway(idle);
      slowServer = await TutorialServer.start(slow, { delayMs: 700 });
      slowGateway = await startGateway(slow, { rpcTimeoutMs: 250 });
    });

    afterAll(async () => {
      await noWorkerGateway?.close();
      await slowGateway?.close();
      await slowServer?.stop();
      await deleteQueues(idle, slow);
    });

    it('no worker → 503: the client span is an error with NO_WORKER, the child of the HTTP span', async () => {
      await request(noWorkerGateway.getHttpServer()).get('/fib/5').set('traceparent', TRACEPARENT).expect(503);
      const tree = await treeOf(CALLER_TRACE, 2);
      const client = tree.find((span) => span.name === `send ${idle}`) as ReadableSpan;
      const http = tree.find((span) => span.kind === SpanKind.SERVER) as ReadableSpan;
      expect(client.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NO_WORKER' });
      expect(client.attributes['error.type']).toBe('NO_WORKER');
      expect(parentOf(client)).toBe(spanId(http));
      expect(http.attributes['http.response.status_code']).toBe(503);
      expect(http.status.code).toBe(SpanStatusCode.ERROR);
    });

    it('deadline → 504: the client span is an error with TIMEOUT', async () => {
      await request(slowGateway.getHttpServer()).get('/fib/6').expect(504);
      const [client] = await spansNamed(`send ${slow}`);
      expect(client.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TIMEOUT' });
      expect(client.attributes['error.type']).toBe('TIMEOUT');
    });
  });
});
