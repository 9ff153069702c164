#!/usr/bin/env node
// A hand-written gateway, as someone would write one from the RabbitMQ
// tutorial's rpc_client.js: plain Fastify and raw amqplib, no Nest, no
// logging, no metrics. One exclusive callback queue, a uuid per call, a Map
// of waiting calls, a timeout per call. GET /fib/:n answers { n, value } like
// ours; a call that times out is a 504. Settings a fair baseline needs:
// TCP_NODELAY (amqplib leaves Nagle on), and nothing else.
const amqp = require('amqplib');
const fastify = require('fastify');
const { randomUUID } = require('node:crypto');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const queue = process.env.RPC_QUEUE || 'rpc_queue';
const timeoutMs = Number(process.env.RPC_TIMEOUT_MS || 5000);

async function main() {
  const connection = await amqp.connect(url, { noDelay: true });
  const channel = await connection.createChannel();
  const { queue: callbackQueue } = await channel.assertQueue('', { exclusive: true });
  const waiting = new Map();
  await channel.consume(
    callbackQueue,
    (msg) => {
      const call = waiting.get(msg.properties.correlationId);
      if (call === undefined) return;
      waiting.delete(msg.properties.correlationId);
      clearTimeout(call.timer);
      call.resolve(msg.content.toString());
    },
    { noAck: true },
  );

  function call(n) {
    return new Promise((resolve, reject) => {
      const correlationId = randomUUID();
      const timer = setTimeout(() => {
        waiting.delete(correlationId);
        reject(new Error('timeout'));
      }, timeoutMs);
      waiting.set(correlationId, { resolve, timer });
      channel.sendToQueue(queue, Buffer.from(String(n)), { correlationId, replyTo: callbackQueue });
    });
  }

  const app = fastify();
  app.get('/fib/:n', async (request, reply) => {
    const n = Number(request.params.n);
    if (!Number.isInteger(n) || n < 0) return reply.code(400).send({ error: 'n must be a non-negative integer' });
    try {
      return { n, value: await call(n) };
    } catch {
      return reply.code(504).send({ error: 'no reply in time' });
    }
  });
  await app.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' });
  process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port} \n`);
  process.on('SIGTERM', () =>
    app
      .close()
      .then(() => connection.close())
      .finally(() => process.exit(0)),
  );
}

main().catch((error) => {
  process.stderr.write(`hand-written gateway: ${error.stack}\n`);
  process.exit(1);
});
