/**
 * Bench-only probe (issue 9, item 8): runs the golevelup prototype worker
 * (main.ts) — and our fib-worker as the control — through three lifecycle
 * behaviours of the contract, against the shared broker on queues of its
 * own, and prints what happened. Not a test: it asserts nothing, it reports.
 *
 *   A. SIGTERM under load: is every request answered is also acked
 *      (golevelup #889: the consumer is not cancelled on shutdown)?
 *   B. Broker-side consumer cancel (queue deleted, then re-created): does
 *      the worker consume the new queue?
 *   C. Broker down at start: what does start-up do (wait: true, the
 *      default, and wait: false)?
 *
 * PROBE_ONLY=A,B,C picks probes, PROBE_REPEAT=N repeats A.
 * Run: npm run build && node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/golevelup-worker/probe.ts
 * Writes bench/results/golevelup-probe.md too.
 */
import { RPC_QUEUE_DECLARATIONS } from '@app/contracts';
import { ChannelModel, connect, ConsumeMessage } from 'amqplib';
import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { AMQP_URL, consumerCount, deleteQueues, sleep, uniqueQueue } from '../../test/support/broker';

const ROOT = join(__dirname, '../..');
type Kind = 'golevelup' | 'golevelup+glue' | 'ours';

interface Worker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
}

function startWorker(kind: Kind, queue: string, env: Record<string, string> = {}): Worker {
  const args =
    kind === 'ours'
      ? [join(ROOT, 'dist/apps/fib-worker/main.js')]
      : ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(__dirname, 'main.ts')];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NO_COLOR: '1',
      AMQP_URL,
      RPC_QUEUE: queue,
      WORKER_PREFETCH: '100',
      WORKER_HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      GOLEVELUP_GLUE: kind === 'golevelup+glue' ? '1' : '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const t0 = Date.now();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, atMs: Date.now() - t0 })),
  );
  return { child, output: () => output, exited };
}

async function until(predicate: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await sleep(50);
  }
  return predicate();
}

async function declare(connection: ChannelModel, queue: string): Promise<void> {
  const channel = await connection.createChannel();
  await channel.assertQueue(queue, RPC_QUEUE_DECLARATIONS.quorum);
  await channel.close();
}

/** The first lines that name an error, else the last lines. */
const errorLines = (text: string, n = 2): string => {
  const lines = text.split('\n').filter((line) => /Error|failed/i.test(line) && !/^\s+at /.test(line));
  return lines.length > 0
    ? lines
        .slice(0, n)
        .map((line) => line.trim().slice(0, 240))
        .join(' ⏎ ')
    : lastLines(text, n);
};

const lastLines = (text: string, n = 4): string =>
  text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-n)
    .map((line) => line.slice(0, 200))
    .join(' ⏎ ');

/** A: 100 requests kept in flight; SIGTERM after 1.5 s; load continues until the worker has exited. */
async function shutdownUnderLoad(kind: Kind): Promise<string> {
  const queue = uniqueQueue(`probe-stop-${kind.replace('+', '-')}`);
  const connection = await connect(AMQP_URL, { noDelay: true });
  try {
    await declare(connection, queue);
    const worker = startWorker(kind, queue);
    if (!(await until(async () => (await consumerCount(queue)) > 0, 60_000))) {
      worker.child.kill('SIGKILL');
      return `${kind}: never consumed (${lastLines(worker.output())})`;
    }
    const channel = await connection.createChannel();
    const { queue: replyTo } = await channel.assertQueue('', { exclusive: true });
    const answered = new Set<string>();
    let next = 0;
    let publishing = true;
    const publish = (): void => {
      if (!publishing) return;
      channel.sendToQueue(queue, Buffer.from('30'), { correlationId: `c${next++}`, replyTo });
    };
    await channel.consume(
      replyTo,
      (msg: ConsumeMessage | null) => {
        if (msg === null) return;
        answered.add(String(msg.properties.correlationId));
        publish();
      },
      { noAck: true },
    );
    for (let i = 0; i < 100; i++) publish();
    await sleep(1500);
    const beforeTerm = answered.size;
    worker.child.kill('SIGTERM');
    const exit = await Promise.race([worker.exited, sleep(20_000).then(() => undefined)]);
    publishing = false;
    if (exit === undefined) worker.child.kill('SIGKILL');
    await sleep(500);
    // What is left in the queue: requests never answered (fine, another replica takes them) and
    // requests answered but never acked (each will be computed and answered a second time).
    const left = await connection.createChannel();
    let leftCount = 0;
    let answeredButLeft = 0;
    let redelivered = 0;
    for (;;) {
      const msg = await left.get(queue, { noAck: true });
      if (msg === false) break;
      leftCount++;
      if (answered.has(String(msg.properties.correlationId))) answeredButLeft++;
      if (msg.fields.redelivered) redelivered++;
    }
    await left.close();
    await channel.close();
    await deleteQueues(queue);
    return (
      `${kind}: ${beforeTerm} answered before SIGTERM, ${answered.size} in all of ${next} sent; ` +
      `exit ${exit === undefined ? 'none within 20 s (killed)' : `code ${exit.code} signal ${exit.signal} after ${exit.atMs} ms of life`}; ` +
      `left in the queue after exit: ${leftCount} (${redelivered} marked redelivered), ` +
      `of them answered already (answered, not acked): ${answeredButLeft}` +
      (/Error|error/.test(worker.output()) ? `; its errors: ${errorLines(worker.output(), 3)}` : '')
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** B: the queue is deleted under the worker (the broker cancels its consumer), then re-created. */
async function consumerCancelled(kind: Kind): Promise<string> {
  const queue = uniqueQueue(`probe-cancel-${kind.replace('+', '-')}`);
  const connection = await connect(AMQP_URL, { noDelay: true });
  const worker = startWorker(kind, queue);
  try {
    await declare(connection, queue);
    if (!(await until(async () => (await consumerCount(queue)) > 0, 60_000))) {
      return `${kind}: never consumed (${lastLines(worker.output())})`;
    }
    const channel = await connection.createChannel();
    await channel.deleteQueue(queue);
    await sleep(300);
    await declare(connection, queue);
    const back = await until(async () => (await consumerCount(queue)) > 0, 10_000);
    const { queue: replyTo } = await channel.assertQueue('', { exclusive: true });
    const reply = new Promise<string>((resolve) => {
      void channel.consume(replyTo, (msg) => msg && resolve(msg.content.toString()), { noAck: true });
    });
    channel.sendToQueue(queue, Buffer.from('30'), { correlationId: 'after-recreate', replyTo });
    const answer = await Promise.race([reply, sleep(5000).then(() => undefined)]);
    await channel.close();
    return (
      `${kind}: consumer on the re-created queue within 10 s: ${back ? 'yes' : 'NO'}; ` +
      `request sent after re-creation answered within 5 s: ${answer === undefined ? 'NO' : `yes (${answer})`}; ` +
      `worker still running: ${worker.child.exitCode === null && worker.child.signalCode === null ? 'yes' : 'no'}` +
      (worker.output().trim() !== '' ? `; its output: ${lastLines(worker.output(), 2)}` : '; it logged nothing')
    );
  } finally {
    worker.child.kill('SIGKILL');
    await worker.exited;
    await deleteQueues(queue).catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** C: nothing listens at AMQP_URL at start; watch the worker for `watchMs`. */
async function brokerDownAtStart(
  kind: Kind,
  env: Record<string, string>,
  label: string,
  watchMs = 15_000,
): Promise<string> {
  const port = await closedPort();
  const worker = startWorker(kind, uniqueQueue('probe-down'), {
    AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}`,
    ...env,
  });
  const exit = await Promise.race([worker.exited, sleep(watchMs).then(() => undefined)]);
  const ready = /consuming/.test(worker.output());
  worker.child.kill('SIGKILL');
  await worker.exited;
  return (
    `${label}: ${exit === undefined ? `still running after ${watchMs / 1000} s` : `exited with code ${exit.code} after ${exit.atMs} ms`}; ` +
    `reported ready: ${ready ? 'yes' : 'no'}; output: ${errorLines(worker.output(), 2) || '(none)'}`
  );
}

async function main(): Promise<void> {
  const lines: string[] = [
    `## golevelup 9.0.2 prototype worker: lifecycle probe — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
  ];
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
    lines.push(`- ${line}`);
  };
  const only = process.env.PROBE_ONLY ?? 'A,B,C';
  if (only.includes('A')) {
    say('**A. SIGTERM under load** (100 requests kept in flight, quorum queue, prefetch 100):');
    const repeat = Number(process.env.PROBE_REPEAT ?? 1);
    for (let i = 0; i < repeat; i++) {
      for (const kind of ['golevelup', 'golevelup+glue', 'ours'] as const) say(`  ${await shutdownUnderLoad(kind)}`);
    }
  }
  if (only.includes('B')) {
    say('**B. Queue deleted under the worker, then re-created** (broker-side basic.cancel):');
    for (const kind of ['golevelup', 'ours'] as const) say(`  ${await consumerCancelled(kind)}`);
  }
  if (only.includes('C')) {
    say('**C. Broker down at start** (nothing listens on the port):');
    say(
      `  ${await brokerDownAtStart('golevelup', {}, 'golevelup, connectionInitOptions default (wait: true, timeout 5000)')}`,
    );
    say(`  ${await brokerDownAtStart('golevelup', { GOLEVELUP_WAIT: 'false' }, 'golevelup, wait: false')}`);
    say(`  ${await brokerDownAtStart('ours', {}, 'ours')}`);
  }
  writeFileSync(join(ROOT, 'bench/results/golevelup-probe.md'), `${lines.join('\n')}\n`);
}

void main();
