import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { deleteQueues, uniqueQueue } from '../support/broker';
import { startGateway, startWorker } from '../support/apps';

/** Every row of the contract's HTTP table that needs no fault, through a real worker and broker. */
describe('gateway GET /fib/:n (e2e)', () => {
  const queue = uniqueQueue('gateway');
  let worker: NestFastifyApplication;
  let gateway: NestFastifyApplication;

  beforeAll(async () => {
    worker = (await startWorker(queue)).app;
    gateway = await startGateway(queue);
  });

  afterAll(async () => {
    await gateway.close();
    await worker.close();
    await deleteQueues(queue);
  });

  it.each([
    ['0', 0, '0'],
    ['1', 1, '1'],
    ['30', 30, '832040'],
    ['100', 100, '354224848179261915075'],
  ])('GET /fib/%s → 200 with the value as a decimal string', async (path, n, value) => {
    const res = await request(gateway.getHttpServer()).get(`/fib/${path}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ n, value });
  });

  it('GET /fib/100000 → 200 with all 20899 digits of fib(100000)', async () => {
    const res = await request(gateway.getHttpServer()).get('/fib/100000').expect(200);
    expect(res.body.value).toHaveLength(20_899);
    expect(
      (res.body.value as string).startsWith(
        '259740693472217241661550340212759154148804853865176965847247707039525345435112736862655567728367167447546375872230744321116383994',
      ),
    ).toBe(true);
  });

  it.each([
    'abc',
    '-1',
    '1.5',
    '1e3',
    '%20',
    '100001',
    '+5',
    '0x10',
    '30%20',
    '%2030',
    '9'.repeat(400),
    '%00',
    '%C3%A9',
  ])('GET /fib/%s → 400 with a JSON error saying what is wrong', async (path) => {
    const res = await request(gateway.getHttpServer()).get(`/fib/${path}`).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toMatch(/^n must be/);
  });

  it.each(['/fib', '/fib/'])('GET %s (no n) → 400', async (path) => {
    const res = await request(gateway.getHttpServer()).get(path).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message: 'n is missing: GET /fib/{n}' });
  });

  it('GET /fib/<leading zeros>30 → 200 for 30', async () => {
    const res = await request(gateway.getHttpServer())
      .get(`/fib/${'0'.repeat(30)}30`)
      .expect(200);
    expect(res.body).toEqual({ n: 30, value: '832040' });
  });

  it('GET /health → 200 with the broker up and one worker', async () => {
    const res = await request(gateway.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { broker: { status: 'up', workers: 1 } } });
  });
});
