#!/usr/bin/env node
// The floor of any Fastify gateway: GET /fib/:n answered with a constant { n, value } — no broker,
// no Nest, no logging. Section 7 of `npm run bench` measures its CPU per request beside the gateways.
const fastify = require('fastify');

const app = fastify();
app.get('/fib/:n', async () => ({ n: 30, value: '832040' }));
app.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }).then(() => {
  process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port} \n`);
});
process.on('SIGTERM', () => app.close().finally(() => process.exit(0)));
