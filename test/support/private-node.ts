import { connect } from 'amqplib';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './broker';

/**
 * A private RabbitMQ node of the machine's own installation, for fault tests: frozen
 * (SIGSTOP), killed, restarted, alarmed, clustered, without ever touching the shared node
 * on 5672, its Erlang cookie or its config. Everything it owns lives in one temp dir.
 *
 * The recipe (verified on these machines): call /usr/lib/rabbitmq/bin/* directly (the
 * /usr/sbin wrappers switch user and bring the shared cookie), a HOME of its own holding its
 * own .erlang.cookie, an env file of its own (the machine's sets NODENAME=rabbit@localhost),
 * listeners on 127.0.0.1, and no file descriptor of the test process inherited.
 */

const RABBITMQ_BIN = process.env.RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';
const BOOT_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const CTL_TIMEOUT_MS = 30_000;

/** Closes every inherited fd above 2, then execs the command (so the pid stays the node's). */
const CLOSE_FDS_AND_EXEC =
  'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$@"';

export interface PrivateNodeOptions {
  /** Node name without host: the node is `<name>@localhost`. Not `rabbit` (the shared node's). */
  name: string;
  /** AMQP port on 127.0.0.1. @default a free port (with its dist port free too) */
  port?: number;
  /** Erlang distribution port. @default port + 20000 (CLI tools then use port + 30000..30010) */
  distPort?: number;
  /** Lines appended to the node's rabbitmq.conf (new-style sysctl format). */
  config?: string;
  /** Plugins to enable, e.g. ['rabbitmq_auth_mechanism_ssl']. @default none */
  plugins?: string[];
  /** Erlang cookie (nodes of one cluster share it). @default a random one */
  cookie?: string;
  /** Directory to create the node's temp dir in. @default os.tmpdir() */
  parentDir?: string;
  /** The login `url` carries and boot readiness uses (a config that loads its own users). @default guest/guest */
  credentials?: { username: string; password: string };
}

interface Layout {
  dir: string;
  home: string;
  envFile: string;
  logFile: string;
  outFile: string;
  pidFile: string;
}

/** Nodes still running, killed if the test process exits without stopping them. */
const live = new Set<PrivateNode>();
process.once('exit', () => {
  for (const node of live) {
    node.killGroupNow();
    rmSync(node.dir, { recursive: true, force: true });
  }
});

export class PrivateNode {
  /** Milliseconds the last (re)start took until an AMQP session was accepted. */
  bootMs = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private frozen = false;
  private removed = false;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly distPort: number,
    private readonly layout: Layout,
    private readonly credentials: { username: string; password: string },
  ) {}

  /** Writes the node's files and boots it; resolves once it accepts an AMQP session. */
  static async start(options: PrivateNodeOptions): Promise<PrivateNode> {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(options.name) || options.name === 'rabbit') {
      throw new Error(`bad private node name: ${options.name}`);
    }
    const port = options.port ?? (await freeNodePort());
    const distPort = options.distPort ?? port + 20_000;
    if (port === 5672 || distPort === 25672) throw new Error('5672/25672 belong to the shared node');
    const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), `fib-rpc-node-${options.name}-`));
    const layout: Layout = {
      dir,
      home: join(dir, 'home'),
      envFile: join(dir, 'rabbitmq-env.conf'),
      logFile: join(dir, 'log', `${options.name}@localhost.log`),
      outFile: join(dir, 'server.out'),
      pidFile: join(dir, 'pid'),
    };
    const node = new PrivateNode(
      options.name,
      port,
      distPort,
      layout,
      options.credentials ?? { username: 'guest', password: 'guest' },
    );
    try {
      mkdirSync(layout.home);
      mkdirSync(join(dir, 'mnesia'));
      mkdirSync(join(dir, 'log'));
      writeFileSync(join(layout.home, '.erlang.cookie'), options.cookie ?? randomBytes(16).toString('hex'), {
        mode: 0o400,
      });
      writeFileSync(
        join(dir, 'rabbitmq.conf'),
        [
          `listeners.tcp.default = 127.0.0.1:${port}`,
          'log.console = false',
          'log.file.level = info',
          options.config ?? '',
        ]
          .join('\n')
          .concat('\n'),
      );
      writeFileSync(join(dir, 'enabled_plugins'), `[${(options.plugins ?? []).join(',')}].\n`);
      writeFileSync(
        layout.envFile,
        Object.entries(node.rabbitmqEnv())
          .map(([key, value]) => `${key.replace(/^RABBITMQ_/, '')}=${value}`)
          .join('\n')
          .concat('\n'),
      );
      await node.boot();
      return node;
    } catch (error) {
      await node.stop();
      throw error;
    }
  }

  /** `<name>@localhost`, for `rabbitmqctl -n` and `join_cluster`. */
  get nodeName(): string {
    return `${this.name}@localhost`;
  }

  get url(): string {
    const { username, password } = this.credentials;
    return `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  /** The node's temp dir (removed by `stop()`). */
  get dir(): string {
    return this.layout.dir;
  }

  /** OS pid of the node's Erlang VM (beam.smp), undefined when it is not running. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The node's log so far (for failure messages). */
  log(): string {
    return readText(this.layout.logFile) + readText(this.layout.outFile);
  }

  /**
   * rabbitmqctl -n <node> ARGS, with the node's own cookie; resolves with stdout. A node accepts AMQP a
   * moment before its boot ends (plugins still starting): a command that needs the whole `rabbit` app is
   * asked again until it runs (bounded).
   */
  async ctl(...args: string[]): Promise<string> {
    const deadline = Date.now() + CTL_TIMEOUT_MS;
    for (;;) {
      try {
        return await this.ctlOnce(args);
      } catch (error) {
        const booting = /requires the 'rabbit' app to be running/.test(String(error));
        if (!booting || !this.running || Date.now() > deadline) throw error;
        await sleep(300);
      }
    }
  }

  private ctlOnce(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        join(RABBITMQ_BIN, 'rabbitmqctl'),
        ['-n', this.nodeName, ...args],
        { env: this.processEnv(), timeout: CTL_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`rabbitmqctl ${args.join(' ')} on ${this.nodeName}: ${error.message}\n${stderr}`))
            : resolve(stdout),
      );
    });
  }

  /** Freezes the VM (SIGSTOP): sockets stay open, nothing answers. */
  freeze(): void {
    this.signal('SIGSTOP');
    this.frozen = true;
  }

  /** Resumes a frozen VM (SIGCONT). */
  thaw(): void {
    this.signal('SIGCONT');
    this.frozen = false;
  }

  /** A memory alarm on (the broker blocks publishing connections) or off again. */
  async memoryAlarm(on: boolean): Promise<void> {
    await this.ctl('set_vm_memory_high_watermark', on ? '0.0000001' : '0.4');
  }

  /** SIGKILL of the VM and every process of its group; resolves once it is gone. Data stays for `restart()`. */
  async kill(): Promise<void> {
    if (this.running) this.killGroupNow();
    await this.waitExit(10_000);
    this.frozen = false;
  }

  /** Stops the node if it runs (kills it if frozen) and boots it again on the same data, ports and cookie. */
  async restart(): Promise<void> {
    if (this.frozen) await this.kill();
    await this.shutdown();
    await this.boot();
  }

  /** Stops the node (SIGTERM, bounded, then SIGKILL) and removes its temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    try {
      await this.shutdown();
    } finally {
      live.delete(this);
      if (!this.removed) {
        this.removed = true;
        rmSync(this.layout.dir, { recursive: true, force: true });
      }
    }
  }

  /** Pids of processes left in the node's process group (the VM's helpers included). */
  leftoverProcesses(): number[] {
    const pgid = this.child?.pid;
    return pgid === undefined ? [] : processGroupMembers(pgid);
  }

  /** For the process 'exit' hook: synchronous. */
  killGroupNow(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  }

  /**
   * Bounded wait for the VM's exit. The child is unref'd (a node left running must not keep the test
   * process alive), so this wait's own timer is what keeps a plain script's event loop running meanwhile.
   */
  private async waitExit(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.nodeName} did not exit within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`${this.nodeName} is not running`);
    process.kill(pid, signal);
  }

  private async shutdown(): Promise<void> {
    if (this.running) {
      if (this.frozen) this.thaw();
      // the VM handles SIGTERM as a graceful stop
      this.child?.kill('SIGTERM');
      const timer = setTimeout(() => this.killGroupNow(), STOP_TIMEOUT_MS);
      try {
        await this.waitExit(STOP_TIMEOUT_MS + 10_000);
      } finally {
        clearTimeout(timer);
      }
    }
    // erl_child_setup, memsup, inet_gethost... go with the VM; sweep any straggler
    this.killGroupNow();
    const pgid = this.child?.pid;
    const deadline = Date.now() + 5_000;
    while (pgid !== undefined && processGroupMembers(pgid).length > 0 && Date.now() < deadline) await sleep(50);
    this.frozen = false;
  }

  private async boot(): Promise<void> {
    const started = Date.now();
    const out = openSync(this.layout.outFile, 'a');
    let child: ChildProcess;
    try {
      // RUNNING_UNDER_SYSTEMD makes the server script exec the VM instead of wrapping it, so
      // the spawned pid is beam.smp's (what freeze/thaw signal); detached: its own process group.
      child = spawn('/bin/bash', ['-c', CLOSE_FDS_AND_EXEC, 'bash', join(RABBITMQ_BIN, 'rabbitmq-server')], {
        env: { ...this.processEnv(), RUNNING_UNDER_SYSTEMD: 'true' },
        stdio: ['ignore', out, out],
        detached: true,
      });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.unref();
    live.add(this);

    const deadline = started + BOOT_TIMEOUT_MS;
    for (;;) {
      if (!this.running) throw new Error(`${this.nodeName} exited while booting\n${tail(this.log())}`);
      if (await acceptsSession(this.url)) break;
      if (Date.now() > deadline) {
        throw new Error(`${this.nodeName} did not accept AMQP within ${BOOT_TIMEOUT_MS} ms\n${tail(this.log())}`);
      }
      await sleep(200);
    }
    this.bootMs = Date.now() - started;
  }

  /** RABBITMQ_* for the server and the CLI; also written to its env file. */
  private rabbitmqEnv(): Record<string, string> {
    const { dir } = this.layout;
    return {
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: this.layout.pidFile,
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '"-kernel inet_dist_use_interface {127,0,0,1}"',
    };
  }

  /** A clean environment: nothing of the test process's (ERL_FLAGS, RABBITMQ_*) leaks in. */
  private processEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      HOME: this.layout.home,
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_CONF_ENV_FILE: this.layout.envFile,
    };
    for (const [key, value] of Object.entries(this.rabbitmqEnv())) {
      // the env file quotes the Erlang args for sh; the variable itself carries them bare
      env[key] = value.replace(/^"(.*)"$/, '$1');
    }
    return env;
  }
}

/** Three private nodes clustered on loopback: node 1 on basePort, nodes 2 and 3 joined to it. */
export class PrivateCluster {
  private constructor(readonly nodes: PrivateNode[]) {}

  /** `config`: lines appended to every node's rabbitmq.conf (e.g. CLUSTER_FAULT_CONFIG). */
  static async start(basePort?: number, prefix = 'fibrpc', config?: string): Promise<PrivateCluster> {
    const cookie = randomBytes(16).toString('hex');
    const base = basePort ?? (await freeNodePort(3));
    const tag = randomBytes(2).toString('hex');
    const started = await Promise.allSettled(
      [1, 2, 3].map((n) => PrivateNode.start({ name: `${prefix}${tag}n${n}`, port: base + n - 1, cookie, config })),
    );
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const cluster = new PrivateCluster(nodes);
    try {
      const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      for (const node of nodes.slice(1)) {
        await node.ctl('stop_app');
        await node.ctl('join_cluster', nodes[0].nodeName);
        await node.ctl('start_app');
        await node.ctl('await_startup');
      }
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Every node's URL, in node order (an AMQP_URL list is `urls.join(',')`). */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Names of the nodes the cluster reports as running (asked of the first running node). */
  async runningNodes(): Promise<string[]> {
    const asker = this.nodes.find((node) => node.running);
    if (!asker) return [];
    const status = JSON.parse(await asker.ctl('cluster_status', '--formatter', 'json')) as { running_nodes: string[] };
    return status.running_nodes;
  }

  /** The node whose AMQP port an endpoint (`amqp://127.0.0.1:PORT/`, as the apps report it) names. */
  nodeAt(endpoint: string): PrivateNode | undefined {
    const port = /:(\d+)\/?[^:]*$/.exec(endpoint)?.[1];
    return this.nodes.find((node) => String(node.port) === port);
  }

  /** A quorum queue's leader and members as the cluster reports them (asked of the first running node). */
  async quorumStatus(queue: string): Promise<{ leader: PrivateNode | undefined; online: number; members: number }> {
    const asker = this.nodes.find((node) => node.running);
    if (!asker) return { leader: undefined, online: 0, members: 0 };
    const rows = JSON.parse(
      await asker.ctl('list_queues', 'name', 'leader', 'members', 'online', '--formatter', 'json'),
    ) as { name: string; leader: string; members: string[] | string; online: string[] | string }[];
    const row = rows.find((entry) => entry.name === queue);
    if (row === undefined) return { leader: undefined, online: 0, members: 0 };
    const count = (value: string[] | string): number => (Array.isArray(value) ? value.length : 0);
    return {
      leader: this.nodes.find((node) => node.nodeName === row.leader),
      online: count(row.online),
      members: count(row.members),
    };
  }

  /**
   * Moves a quorum queue's leadership to `to` (Ra's transfer_leadership, through `rabbitmqctl eval` on
   * `to`), then waits (bounded) until the cluster reports it there. For faults that need the leader on a
   * given node: RabbitMQ 3.10's CLI has no command for it.
   */
  async moveQueueLeader(queue: string, to: PrivateNode, timeoutMs = 20_000): Promise<void> {
    if (!/^[\w.:-]+$/.test(queue)) throw new Error(`queue name unfit for an eval: ${queue}`);
    const expression = [
      `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"${queue}">>)),`,
      `{RaName, _} = Leader = amqqueue:get_pid(Q),`,
      `ra:transfer_leadership(Leader, {RaName, '${to.nodeName}'}).`,
    ].join(' ');
    const deadline = Date.now() + timeoutMs;
    let answer = '';
    while ((await this.quorumStatus(queue)).leader !== to) {
      if (Date.now() > deadline)
        throw new Error(`leader of ${queue} not on ${to.nodeName} within ${timeoutMs} ms: ${answer}`);
      answer = (await to.ctl('eval', expression)).trim();
      await sleep(500);
    }
  }

  /**
   * Bounded wait until every node runs, each sees all three running, and (given a quorum queue)
   * the queue has a leader and all three members online.
   */
  async waitWhole(queue: string | undefined, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const views = await Promise.all(
          this.nodes.map(async (node) => {
            const status = JSON.parse(await node.ctl('cluster_status', '--formatter', 'json')) as {
              running_nodes: string[];
            };
            return status.running_nodes.length;
          }),
        );
        const qq = queue === undefined ? undefined : await this.quorumStatus(queue);
        last = `running seen per node ${views.join('/')}; queue ${qq ? `leader ${qq.leader?.nodeName ?? 'none'}, ${qq.online}/${qq.members} online` : '-'}`;
        if (views.every((n) => n === 3) && (qq === undefined || (qq.leader !== undefined && qq.online === 3))) return;
      } catch (error) {
        last = String(error).split('\n')[0];
      }
      if (Date.now() > deadline) throw new Error(`cluster not whole within ${timeoutMs} ms: ${last}`);
      await sleep(500);
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.stop()));
  }
}

/**
 * What the cluster tests add to every node's rabbitmq.conf. net_ticktime 10 (default 60): a frozen
 * (SIGSTOP) node is declared down by its peers after 7.5–12.5 s of silence instead of 45–75 s, so the
 * quorum queue returns the requests its consumers there held (4 gave 3–5 s, but on a machine at load
 * 10+ it declared live nodes down and the cluster did not come back whole). pause_minority: a node
 * that finds itself cut off from the majority (a thawed node) stops serving instead of going on as a
 * second partition, and rejoins when it sees the majority again.
 */
export const CLUSTER_FAULT_CONFIG = ['net_ticktime = 10', 'cluster_partition_handling = pause_minority'].join('\n');

/** A 3-node cluster helper for the cluster tests. */
export function startCluster(basePort?: number, config?: string): Promise<PrivateCluster> {
  return PrivateCluster.start(basePort, 'fibrpc', config);
}

/**
 * A free AMQP port (with `count` consecutive ones) whose dist port (+20000) and CLI dist
 * ports (+30000..+30010) lie below the ephemeral range's end and are free too.
 */
export async function freeNodePort(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 3_000);
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + i + 20_000]).flat();
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free port for a private node');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function acceptsSession(url: string): Promise<boolean> {
  try {
    const connection = await connect(url, { timeout: 2_000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Pids whose process group is `pgid` (field 5 of /proc/<pid>/stat). */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    // comm may hold spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
