// The RabbitMQ tutorial's rpc_client.js, made to keep many calls in flight:
// one exclusive callback queue, a uuid per call, a Map of waiting calls.
// No deadlines, no fail-fast: the minimum a request/reply client does.
const amqp = require('amqplib');
const { randomUUID } = require('node:crypto');

class BaselineClient {
  static async open(url, queue) {
    const client = new BaselineClient();
    client.queue = queue;
    client.connection = await amqp.connect(url, { noDelay: true });
    client.channel = await client.connection.createChannel();
    const { queue: callbackQueue } = await client.channel.assertQueue('', { exclusive: true });
    client.callbackQueue = callbackQueue;
    client.waiting = new Map();
    await client.channel.consume(
      callbackQueue,
      (msg) => {
        const resolve = client.waiting.get(msg.properties.correlationId);
        if (resolve) {
          client.waiting.delete(msg.properties.correlationId);
          resolve(msg.content.toString());
        }
      },
      { noAck: true },
    );
    return client;
  }

  call(n) {
    const correlationId = randomUUID();
    return new Promise((resolve) => {
      this.waiting.set(correlationId, resolve);
      this.channel.sendToQueue(this.queue, Buffer.from(n.toString()), { correlationId, replyTo: this.callbackQueue });
    });
  }

  close() {
    return this.connection.close();
  }
}

module.exports = { BaselineClient };
