import { createServer } from 'node:net';
import { AppProcess } from './app-process';
import { uniqueQueue, waitFor } from './broker';
import { httpGet } from './http';
import { CLUSTER_FAULT_CONFIG, PrivateCluster, PrivateNode, startCluster } from './private-node';

export interface ClusterRigOptions {
  /** The gateway's RPC_TIMEOUT_MS. @default 5000 */
  deadlineMs?: number;
  workers?: number;
  /** Bound on the cluster's boot (it took ~15 s idle, 75 s on a machine at load 14). @default 300 s */
  bootTimeoutMs?: number;
}

/**
 * A private 3-node cluster (CLUSTER_FAULT_CONFIG) with the built gateway and workers given all three
 * node URLs in AMQP_URL and a quorum request queue of their own: the cluster fault spec's and the
 * cluster soak's set-up, with the questions they ask (which node is each app on, who leads the queue).
 */
export class ClusterRig {
  readonly queue = uniqueQueue('cluster');
  url = '';
  workerUrls: string[] = [];
  gateway: AppProcess | undefined;
  workers: AppProcess[] = [];
  /** From the first node's start to the apps answering, ms. */
  bootMs = 0;

  private constructor(
    readonly cluster: PrivateCluster,
    readonly deadlineMs: number,
  ) {}

  static async start(options: ClusterRigOptions = {}): Promise<ClusterRig> {
    const started = Date.now();
    const cluster = await startCluster(undefined, CLUSTER_FAULT_CONFIG);
    const rig = new ClusterRig(cluster, options.deadlineMs ?? 5000);
    try {
      // LOG_LEVEL warn (no line per request to capture), so the HTTP ports are chosen here, not read from a log line
      const env = rig.env();
      for (let i = 0; i < (options.workers ?? 2); i++) {
        const port = await freePort();
        rig.workers.push(new AppProcess('fib-worker', { ...env, WORKER_HTTP_PORT: String(port) }));
        rig.workerUrls.push(`http://127.0.0.1:${port}`);
      }
      const port = await freePort();
      rig.gateway = new AppProcess('gateway', { ...env, PORT: String(port) });
      rig.url = `http://127.0.0.1:${port}`;
      await rig.appsReady(90_000);
      await cluster.waitWhole(rig.queue, 90_000);
      rig.bootMs = Date.now() - started;
      return rig;
    } catch (error) {
      await rig.stop();
      throw error;
    }
  }

  get nodes(): PrivateNode[] {
    return this.cluster.nodes;
  }

  /** The apps' environment: every node in AMQP_URL, the rig's quorum queue. */
  env(): Record<string, string> {
    return {
      AMQP_URL: this.cluster.urls.join(','),
      RPC_QUEUE: this.queue,
      RPC_QUEUE_TYPE: 'quorum',
      RPC_TIMEOUT_MS: String(this.deadlineMs),
      LOG_LEVEL: 'warn',
    };
  }

  /** The node the gateway's /health names (details.node): where it is connected now. */
  gatewayNode(): Promise<PrivateNode | undefined> {
    return this.nodeOf(`${this.url}/health`, 'broker');
  }

  /** Each worker's node, from its /health (details.node). */
  workerNodes(): Promise<(PrivateNode | undefined)[]> {
    return Promise.all(this.workerUrls.map((workerUrl) => this.nodeOf(`${workerUrl}/health`, 'rpcQueue')));
  }

  async leaderNode(): Promise<PrivateNode | undefined> {
    return (await this.cluster.quorumStatus(this.queue)).leader;
  }

  /** What is on `node` ("gateway + worker 2 + queue leader"), for reports. */
  async appsOn(node: PrivateNode): Promise<string> {
    const on: string[] = [];
    if ((await this.gatewayNode()) === node) on.push('gateway');
    (await this.workerNodes()).forEach((workerNode, i) => workerNode === node && on.push(`worker ${i + 1}`));
    if ((await this.leaderNode()) === node) on.push('queue leader');
    return on.join(' + ') || 'nothing';
  }

  /**
   * Restarts the gateway (same port and environment) until it is connected to none of `avoid`: its node
   * is its shuffled order's first, so a few restarts place it (bounded).
   */
  async moveGatewayOff(avoid: PrivateNode[], attempts = 8): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      const on = await this.gatewayNode();
      if (on !== undefined && !avoid.includes(on)) return;
      await this.gateway?.stop();
      this.gateway = new AppProcess('gateway', { ...this.env(), PORT: new URL(this.url).port });
      await this.appsReady(60_000);
    }
    throw new Error(
      `gateway still on one of ${avoid.map((node) => node.nodeName).join(', ')} after ${attempts} restarts`,
    );
  }

  /**
   * Restarts worker `index` (same port and environment) until it is connected to none of `avoid` (bounded,
   * like moveGatewayOff).
   */
  async moveWorkerOff(index: number, avoid: PrivateNode[], attempts = 8): Promise<void> {
    const port = new URL(this.workerUrls[index]).port;
    for (let i = 0; i < attempts; i++) {
      const on = (await this.workerNodes())[index];
      if (on !== undefined && !avoid.includes(on)) return;
      await this.workers[index].stop();
      this.workers[index] = new AppProcess('fib-worker', { ...this.env(), WORKER_HTTP_PORT: port });
      await this.appsReady(60_000);
    }
    throw new Error(`worker ${index + 1} still on one of ${avoid.map((node) => node.nodeName).join(', ')}`);
  }

  /** Gateway and every worker healthy, the gateway seeing every consumer, and /fib/30 answering. */
  async appsReady(timeoutMs: number): Promise<void> {
    const exited = [this.gateway, ...this.workers].find((app) => app !== undefined && !app.running);
    if (exited !== undefined) throw new Error(`${exited.name} exited:\n${exited.output}`);
    await waitFor(
      async () => {
        const health = await httpGet(`${this.url}/health`, 3000).catch(() => undefined);
        if (health?.status !== 200 || health.body.info?.broker?.workers !== this.workers.length) return false;
        const up = await Promise.all(
          this.workerUrls.map(
            async (workerUrl) => (await httpGet(`${workerUrl}/health`, 3000).catch(() => undefined))?.status,
          ),
        );
        if (!up.every((status) => status === 200)) return false;
        return (await httpGet(`${this.url}/fib/30`, this.deadlineMs + 1000).catch(() => undefined))?.status === 200;
      },
      timeoutMs,
      'gateway and every worker healthy, every consumer seen',
    );
  }

  /** The nodes back (restarted on their data), the cluster whole with every queue member online, the apps ready. */
  async restore(...victims: PrivateNode[]): Promise<void> {
    await Promise.all(victims.map((node) => node.restart()));
    await this.cluster.waitWhole(this.queue, 180_000);
    await this.appsReady(30_000);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.gateway?.stop(), ...this.workers.map((worker) => worker.stop())]);
    await this.cluster.stop();
  }

  /** Slowest /health answer seen (a loaded machine answers slowly; recorded for the report). */
  slowestHealthMs = 0;

  private async nodeOf(healthUrl: string, key: 'broker' | 'rpcQueue'): Promise<PrivateNode | undefined> {
    const { body, ms } = await httpGet(healthUrl, 15_000);
    this.slowestHealthMs = Math.max(this.slowestHealthMs, ms);
    const node = (body.info?.[key]?.node ?? body.error?.[key]?.node) as string | undefined;
    return node === undefined ? undefined : this.cluster.nodeAt(node);
  }
}

/** A TCP port free on 127.0.0.1 now (for an app's HTTP port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
