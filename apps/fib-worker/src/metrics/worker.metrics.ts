import { METRICS_REGISTRY } from '@app/observability';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RpcQueueServer } from '../rpc-queue/rpc-queue.server';

const N_BUCKETS = [
  [1_000, 'n<1e3'],
  [10_000, 'n<1e4'],
  [100_000, 'n<1e5'],
] as const;

function nBucket(n: number): string {
  for (const [limit, label] of N_BUCKETS) if (n < limit) return label;
  return 'n>=1e5';
}

/**
 * The worker's metrics: compute time by n bucket is recorded per request;
 * requests by outcome and requests in hand are read from the transport when
 * Prometheus scrapes.
 */
@Injectable()
export class WorkerMetrics {
  private readonly compute: Histogram<'n_bucket'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, server: RpcQueueServer) {
    const registers = [registry];
    this.compute = new Histogram({
      name: 'fib_worker_compute_seconds',
      help: 'Time to compute fib(n) and its decimal string, by n bucket',
      labelNames: ['n_bucket'],
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers,
    });
    new Counter({
      name: 'fib_worker_requests_total',
      help: 'Requests handled, by outcome: ok, an error reply code, or dropped (no reply_to)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'ok' }, server.stats.answered);
        this.inc({ outcome: 'dropped' }, server.stats.dropped);
        for (const [code, count] of Object.entries(server.stats.failed)) this.inc({ outcome: code }, count);
      },
    });
    new Counter({
      name: 'fib_worker_requests_expired_total',
      help: 'Requests acked without computing them: their caller had given up (x-deadline past)',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.expired);
      },
    });
    new Counter({
      name: 'fib_worker_replies_unpublishable_total',
      help: 'Replies that could not be published (a property that cannot be encoded); the request was acked all the same',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.unpublishable);
      },
    });
    new Counter({
      name: 'fib_worker_requests_clock_skewed_total',
      help: "Requests past their deadline by more than their whole budget (expiration): this host's clock runs ahead of the caller's; computed anyway",
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.clockSkewed);
      },
    });
    new Counter({
      name: 'fib_worker_replies_undeliverable_total',
      help: 'Replies the broker would not take (a reply address it cannot resolve, or a nack); the request was acked without a reply',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.undeliverable);
      },
    });
    new Counter({
      name: 'fib_worker_reply_connection_refusals_total',
      help: 'Times the broker closed the reply connection over a reply it would not take (RabbitMQ 3.10: 541); the consuming link stays up',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.replyConnectionRefusals);
      },
    });
    new Counter({
      name: 'fib_worker_broker_link_losses_total',
      help: 'Times the consuming link was lost (closed, reset or dropped); unacked requests went back to the queue',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.linkLosses);
      },
    });
    new Counter({
      name: 'fib_worker_broker_silent_link_drops_total',
      help: 'Links dropped because the broker left the periodic question unanswered (a silent link, a frozen node); 0 under healthy load',
      registers,
      collect() {
        this.reset();
        this.inc(server.stats.silentLinkDrops);
      },
    });
    new Gauge({
      name: 'fib_worker_in_flight',
      help: 'Requests delivered to this worker and not yet answered',
      registers,
      collect() {
        this.set(server.inHandCount);
      },
    });
    new Gauge({
      name: 'fib_worker_consuming',
      help: '1 while this worker consumes the request queue',
      registers,
      collect() {
        this.set(server.isConsuming ? 1 : 0);
      },
    });
    new Gauge({
      name: 'fib_worker_broker_node_info',
      help: '1 for the broker node this worker is connected to (URL without credentials)',
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        const { node } = server.linkStatus;
        if (node !== undefined) this.set({ node }, 1);
      },
    });
  }

  computed(n: number, startedAt: number): void {
    this.compute.observe({ n_bucket: nBucket(n) }, (performance.now() - startedAt) / 1000);
  }
}
