#!/usr/bin/env node
// The RabbitMQ tutorial's rpc_server.js, kept as written, plus three settings a
// fair baseline needs: TCP_NODELAY (amqplib leaves Nagle on), a prefetch from
// the environment (the tutorial uses 1), and the request queue's declaration
// from RPC_QUEUE_TYPE: `quorum` as today's tutorial declares it (the default),
// `transient` as the 2010s tutorial did, `classic` durable in between.
const amqp = require('amqplib');

const url = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const queue = process.env.RPC_QUEUE || 'rpc_queue';
const prefetch = Number(process.env.PREFETCH || 1);
const declarations = {
  quorum: { durable: true, arguments: { 'x-queue-type': 'quorum' } },
  classic: { durable: true },
  transient: { durable: false },
};
const declaration = declarations[process.env.RPC_QUEUE_TYPE || 'quorum'];
if (!declaration) throw new Error(`RPC_QUEUE_TYPE must be one of ${Object.keys(declarations).join(', ')}`);

function fibonacci(n) {
  // fast doubling, as ours, so the baseline computes the same way
  let a = 0n,
    b = 1n;
  for (let bit = 1 << 30; bit > 0; bit >>>= 1) {
    if (bit > n) continue;
    const c = a * (2n * b - a),
      d = a * a + b * b;
    if (n & bit) {
      a = d;
      b = c + d;
    } else {
      a = c;
      b = d;
    }
  }
  return a;
}

amqp.connect(url, { noDelay: true }).then(async (connection) => {
  const channel = await connection.createChannel();
  await channel.assertQueue(queue, declaration);
  await channel.prefetch(prefetch);
  await channel.consume(queue, (msg) => {
    const n = parseInt(msg.content.toString(), 10);
    channel.sendToQueue(msg.properties.replyTo, Buffer.from(fibonacci(n).toString()), {
      correlationId: msg.properties.correlationId,
    });
    channel.ack(msg);
  });
  process.stdout.write(' [x] Awaiting RPC requests\n');
  process.on('SIGTERM', () => connection.close().finally(() => process.exit(0)));
});
