import { METRICS_REGISTRY } from '@app/observability';
import { RpcClient } from '@app/rpc-client';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The gateway's RPC metrics. Calls and latency are recorded per call; the
 * client's own state (pending calls, unknown replies, reconnects, workers
 * seen) is read when Prometheus scrapes, costing nothing per call.
 */
@Injectable()
export class GatewayMetrics {
  private readonly duration: Histogram<'outcome'>;
  /** Calls per outcome, counted here and handed to the counter at scrape: no label hashing per call. */
  private readonly calls = new Map<string, number>();

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, rpc: RpcClient) {
    const registers = [registry];
    const calls = this.calls;
    new Counter({
      name: 'fib_gateway_rpc_calls_total',
      help: 'RPC calls by outcome: ok, or the RpcClientError code (TIMEOUT, REMOTE, NO_WORKER, ...; CANCELLED: the HTTP caller disconnected first)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, count] of calls) this.inc({ outcome }, count);
      },
    });
    this.duration = new Histogram({
      name: 'fib_gateway_rpc_duration_seconds',
      help: 'End-to-end RPC call time, publish to reply, by outcome',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'fib_gateway_rpc_pending_calls',
      help: 'RPC calls waiting for their reply',
      registers,
      collect() {
        this.set(rpc.pendingCount);
      },
    });
    new Gauge({
      name: 'fib_gateway_rpc_workers',
      help: 'Consumers of the request queue at the last check',
      registers,
      collect() {
        this.set(rpc.consumerCount);
      },
    });
    new Gauge({
      name: 'fib_gateway_broker_connected',
      help: '1 while the broker connection and reply path are up',
      registers,
      collect() {
        this.set(rpc.isConnected ? 1 : 0);
      },
    });
    new Counter({
      name: 'fib_gateway_rpc_unknown_replies_total',
      help: 'Replies discarded because no pending call had their correlation id (late, duplicate or foreign)',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.unknownReplies);
      },
    });
    new Counter({
      name: 'fib_gateway_broker_reconnects_total',
      help: 'Reconnects to the broker after a lost connection',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.reconnects);
      },
    });
    new Counter({
      name: 'fib_gateway_broker_silent_link_drops_total',
      help: 'Links dropped because the consumer check or a publisher confirm got no answer in time (half-open TCP, frozen node); 0 under healthy load',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.silentLinkDrops);
      },
    });
    new Counter({
      name: 'fib_gateway_broker_rejected_total',
      help: 'Requests the broker refused (basic.nack, e.g. a length-limited request queue): answered 503 REJECTED',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.rejected);
      },
    });
    new Counter({
      name: 'fib_gateway_broker_channels_replaced_total',
      help: 'Request channels replaced because the broker kept nacking on one (a channel left with a lost quorum queue leader); 0 under healthy load',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.channelsReplaced);
      },
    });
    new Counter({
      name: 'fib_gateway_rpc_resends_total',
      help: 'Requests sent again on a new link after their link was lost before the reply',
      registers,
      collect() {
        this.reset();
        this.inc(rpc.stats.resends);
      },
    });
    new Gauge({
      name: 'fib_gateway_broker_node_info',
      help: '1 for the broker node the gateway is connected to (URL without credentials)',
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        const { node } = rpc.health();
        if (node !== undefined) this.set({ node }, 1);
      },
    });
  }

  /** One finished call: its outcome and seconds since `startedAt` (performance.now()). */
  record(outcome: string, startedAt: number): void {
    this.calls.set(outcome, (this.calls.get(outcome) ?? 0) + 1);
    this.duration.observe({ outcome }, (performance.now() - startedAt) / 1000);
  }
}
