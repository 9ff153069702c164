/**
 * Bench-only prototype: the fib worker on @golevelup/nestjs-rabbitmq 9.0.2
 * (issue 9, item 8). Not part of the apps or the test suite; `npm run bench`
 * measures it against our worker and bench/golevelup-worker/probe.ts checks
 * its lifecycle against the contract.
 *
 * What it takes to speak the contract's wire format with golevelup, all by
 * its public options:
 * - plain-text requests: a `deserializer` that returns the body as text (the
 *   default JSON.parse would accept " 30" and reject "007");
 * - plain-text replies: a `serializer` that writes the value as it is (the
 *   default JSON.stringify would quote it) and `defaultPublishOptions` for
 *   `content_type: text/plain`;
 * - error replies and no requeue: an `errorHandler` that publishes the
 *   contract's error reply and acks (the default requeues, so a bad request
 *   would loop);
 * - the deadline header: the handler returns `new Nack(false)` (dropped,
 *   not requeued, no reply) for a request already past it;
 * - adopting the pre-declared queue: `createQueueIfNotExists: false`
 *   (a passive check; the default asserts it with golevelup's options, a
 *   406 against a queue of another type).
 *
 * Lifecycle glue (GOLEVELUP_GLUE=1): cancel the consumers before the
 * connection closes, through AmqpConnection's public consumerTags and
 * cancelConsumer (golevelup #889: its close() cancels only consumers made
 * through amqp-connection-manager's wrapper, and its own are not). Not
 * sufficient: probe.ts still saw requests answered but not acked once in
 * six runs with it. Nothing here handles a broker-side consumer cancel or a
 * broker down at start (probe.ts shows both).
 *
 * Environment: AMQP_URL, RPC_QUEUE, WORKER_PREFETCH (default 100),
 * FIB_MAX_N, GOLEVELUP_WAIT=false (connectionInitOptions.wait),
 * GOLEVELUP_GLUE=1, LOG_LEVEL=info|warn|error.
 */
import 'reflect-metadata';
import {
  DEADLINE_HEADER,
  DEFAULT_FIB_MAX_N,
  encodeErrorReply,
  ERROR_CONTENT_TYPE,
  ERROR_REPLY_TYPE,
  FibArgumentError,
  parseFibN,
  RpcErrorCode,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import { fib } from '@app/fib';
import { AmqpConnection, MessageErrorHandler, Nack, RabbitMQModule, RabbitRPC } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Injectable, LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Channel, ConsumeMessage } from 'amqplib';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const QUEUE = process.env.RPC_QUEUE ?? 'rpc_queue';
const PREFETCH = Number(process.env.WORKER_PREFETCH ?? 100);
const MAX_N = Number(process.env.FIB_MAX_N ?? DEFAULT_FIB_MAX_N);
const WAIT = process.env.GOLEVELUP_WAIT !== 'false';
const GLUE = process.env.GOLEVELUP_GLUE === '1';
const LEVELS: Record<string, LogLevel[]> = {
  info: ['log', 'warn', 'error'],
  warn: ['warn', 'error'],
  error: ['error'],
};

/** Error reply, then ack: never requeued (golevelup's default error handler requeues). */
const replyError: MessageErrorHandler = (channel: Channel, msg: ConsumeMessage | ConsumeMessage[], error: unknown) => {
  for (const m of Array.isArray(msg) ? msg : [msg]) {
    const { replyTo, correlationId } = m.properties as { replyTo?: string; correlationId?: string };
    if (replyTo) {
      const [code, message] =
        error instanceof FibArgumentError ? [error.code, error.message] : [RpcErrorCode.INTERNAL, 'internal error'];
      channel.publish('', replyTo, encodeErrorReply(code, message), {
        correlationId,
        type: ERROR_REPLY_TYPE,
        contentType: ERROR_CONTENT_TYPE,
      });
    }
    channel.ack(m);
  }
};

@Injectable()
class FibRpcHandler {
  @RabbitRPC({
    queue: QUEUE,
    routingKey: QUEUE,
    createQueueIfNotExists: false,
    errorHandler: replyError,
  })
  answer(n: string, msg: ConsumeMessage): string | Nack {
    const deadline: unknown = msg.properties.headers?.[DEADLINE_HEADER];
    if (typeof deadline === 'number' && deadline < Date.now()) return new Nack(false);
    return fib(parseFibN(n, MAX_N)).toString();
  }
}

@Injectable()
class CancelConsumersFirst implements BeforeApplicationShutdown {
  constructor(private readonly amqp: AmqpConnection) {}

  async beforeApplicationShutdown(): Promise<void> {
    if (!GLUE) return;
    await Promise.all(this.amqp.consumerTags.map((tag) => this.amqp.cancelConsumer(tag)));
  }
}

@Module({
  imports: [
    RabbitMQModule.forRoot({
      uri: AMQP_URL,
      prefetchCount: PREFETCH,
      connectionInitOptions: { wait: WAIT },
      deserializer: (content: Buffer) => content.toString('latin1'),
      serializer: (value: unknown) => Buffer.from(String(value), 'latin1'),
      defaultPublishOptions: { contentType: TEXT_CONTENT_TYPE },
    }),
  ],
  providers: [FibRpcHandler, CancelConsumersFirst],
})
class GolevelupWorkerModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(GolevelupWorkerModule, {
    logger: LEVELS[process.env.LOG_LEVEL ?? 'warn'] ?? LEVELS.warn,
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      process.stdout.write(`golevelup worker: ${signal}, closing\n`);
      void app.close().then(() => {
        process.stdout.write('golevelup worker: closed\n');
        process.exit(0);
      });
    });
  }
  process.stdout.write(`golevelup worker: consuming ${QUEUE}\n`);
}

main().catch((error: unknown) => {
  process.stdout.write(`golevelup worker: start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
