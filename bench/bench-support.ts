/** Helpers shared by the bench's sections: CPU accounting from /proc, statistics, processes and queues. */
import { RPC_QUEUE_DECLARATIONS, RpcQueueType } from '@app/contracts';
import { ChildProcess, execSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { AMQP_URL, openBroker } from '../test/support/broker';

export const ROOT = join(__dirname, '..');

/**
 * The broker process listening on AMQP_URL's port (other RabbitMQ nodes may run on this machine,
 * so the first beam.smp is not necessarily ours); the first beam.smp if `ss` cannot tell.
 */
function findBrokerPid(): string {
  const port = new URL(AMQP_URL).port || '5672';
  let listening = '';
  try {
    listening = execSync(`ss -ltnpH 'sport = :${port}'`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (error) {
    process.stderr.write(`ss failed (${String(error)}); taking the first beam.smp as the broker\n`);
  }
  const pid = /"beam\.smp",pid=(\d+)/.exec(listening)?.[1];
  return pid ?? execSync('pgrep -f beam.smp').toString().trim().split('\n')[0];
}
export const brokerPid = findBrokerPid();

/** CPU time of a process in ms (10 ms resolution); NaN once it has gone. */
export function cpuMs(pid: number | string): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.NaN;
  }
  const fields = stat.split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const fmt = (x: number, digits = 0): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const spread = (xs: number[], digits = 0): string =>
  `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Declares a request queue as RPC_QUEUE_TYPE=`type` would (no-op if it exists with the same arguments). */
export async function declareQueue(queue: string, type: RpcQueueType): Promise<void> {
  const connection = await openBroker();
  try {
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, RPC_QUEUE_DECLARATIONS[type]);
  } finally {
    await connection.close();
  }
}

/** Starts a helper process and resolves once it prints its ready line, with that output. */
export function startProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output: string }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/Awaiting|listening on/.test(output)) resolve({ child, output });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready`)));
  });
}
