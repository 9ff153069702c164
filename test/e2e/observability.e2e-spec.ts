import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { deleteQueues, uniqueQueue } from '../support/broker';
import { startGateway, startWorker } from '../support/apps';
import { sample } from '../support/metrics';

/** Metrics, API docs and request ids of both apps, in process against the real broker. */
describe('metrics, docs and request ids (e2e)', () => {
  const queue = uniqueQueue('observability');
  let worker: NestFastifyApplication;
  let gateway: NestFastifyApplication;

  beforeAll(async () => {
    worker = (await startWorker(queue)).app;
    await worker.getHttpAdapter().getInstance().ready();
    gateway = await startGateway(queue);
  });

  afterAll(async () => {
    await gateway.close();
    await worker.close();
    await deleteQueues(queue);
  });

  const scrape = async (app: NestFastifyApplication): Promise<string> =>
    (
      await request(app.getHttpServer())
        .get('/metrics')
        .expect(200)
        .expect('content-type', /^text\/plain/)
    ).text;

  it('moves the counters by exactly the calls made', async () => {
    const [gw0, wk0] = [await scrape(gateway), await scrape(worker)];
    for (const n of [1, 2, 3, 500, 5000]) await request(gateway.getHttpServer()).get(`/fib/${n}`).expect(200);
    await request(gateway.getHttpServer()).get('/fib/x').expect(400);
    const [gw1, wk1] = [await scrape(gateway), await scrape(worker)];
    const delta = (a: string, b: string, series: string): number => sample(b, series) - sample(a, series);
    expect(delta(gw0, gw1, 'fib_gateway_rpc_calls_total{outcome="ok"}')).toBe(5);
    expect(delta(gw0, gw1, 'fib_gateway_rpc_duration_seconds_count{outcome="ok"}')).toBe(5);
    expect(sample(gw1, 'fib_gateway_rpc_pending_calls')).toBe(0);
    expect(sample(gw1, 'fib_gateway_rpc_workers')).toBe(1);
    expect(sample(gw1, 'fib_gateway_broker_connected')).toBe(1);
    expect(gw1).toMatch(/^fib_gateway_rpc_unknown_replies_total \d+$/m);
    expect(gw1).toMatch(/^fib_gateway_broker_reconnects_total 0$/m);
    expect(gw1).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(delta(wk0, wk1, 'fib_worker_requests_total{outcome="ok"}')).toBe(5);
    expect(delta(wk0, wk1, 'fib_worker_compute_seconds_count{n_bucket="n<1e3"}')).toBe(4);
    expect(delta(wk0, wk1, 'fib_worker_compute_seconds_count{n_bucket="n<1e4"}')).toBe(1);
    expect(sample(wk1, 'fib_worker_in_flight')).toBe(0);
    expect(sample(wk1, 'fib_worker_consuming')).toBe(1);
  });

  it('serves the OpenAPI document with the route, its schemas and every status', async () => {
    await request(gateway.getHttpServer()).get('/docs').expect(200).expect('content-type', /html/);
    const doc = (await request(gateway.getHttpServer()).get('/docs-json').expect(200)).body as {
      paths: Record<
        string,
        { get: { responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }> } }
      >;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const responses = doc.paths['/fib/{n}'].get.responses;
    expect(Object.keys(responses).sort()).toEqual(['200', '400', '502', '503', '504']);
    expect(responses['200'].content?.['application/json'].schema.$ref).toBe('#/components/schemas/FibResultDto');
    expect(Object.keys(doc.components.schemas.FibResultDto.properties)).toEqual(['n', 'value']);
    expect(Object.keys(doc.components.schemas.ErrorBodyDto.properties)).toEqual([
      'statusCode',
      'error',
      'message',
      'code',
    ]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/fib/{n}', '/health', '/metrics']));
  });

  it('echoes X-Request-Id, and generates one when absent', async () => {
    await request(gateway.getHttpServer())
      .get('/fib/7')
      .set('X-Request-Id', 'req-42')
      .expect(200)
      .expect('x-request-id', 'req-42');
    await request(gateway.getHttpServer())
      .get('/fib/x')
      .set('X-Request-Id', 'req-43')
      .expect(400)
      .expect('x-request-id', 'req-43');
    const res = await request(gateway.getHttpServer()).get('/fib/7').expect(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const odd = await request(gateway.getHttpServer())
      .get('/fib/7')
      .set('X-Request-Id', 'no spaces allowed')
      .expect(200);
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('worker /health says up while it consumes', async () => {
    const res = await request(worker.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { rpcQueue: { status: 'up' } } });
  });
});
