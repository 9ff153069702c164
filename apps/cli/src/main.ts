import { encodeFibRequest, FibArgumentError, parseFibN } from '@app/contracts';
import { RpcClient, RpcClientError } from '@app/rpc-client';
import { linkSettings, loadConfigOrExit } from '@app/runtime';
import { Logger } from '@nestjs/common';

/**
 * The tutorial's client, through our RPC client: `npm run fib -- 10 30 90`
 * prints `fib(n) = value` per n, or `fib(n): CODE message` on stderr, and
 * exits 1 if any call failed.
 */
async function main(args: string[]): Promise<number> {
  const config = loadConfigOrExit();
  if (args.length === 0) {
    process.stderr.write('usage: npm run fib -- N [N …]\n');
    return 2;
  }
  Logger.overrideLogger(['error']);
  const client = new RpcClient({
    ...linkSettings(config),
    queue: config.rpcQueue,
    timeoutMs: config.rpcTimeoutMs,
    replyMode: config.rpcReplyMode,
    reconnectDelayMs: [100, 100],
    connectionName: 'fib-rpc cli',
  });
  await client.connect();
  const results = await Promise.allSettled(
    args.map(async (arg) => client.call(encodeFibRequest(parseFibN(arg, config.fibMaxN)))),
  );
  await client.close({ drain: false });
  let failed = 0;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      process.stdout.write(`fib(${args[i]}) = ${result.value}\n`);
    } else {
      failed++;
      process.stderr.write(`fib(${args[i]}): ${describe(result.reason)}\n`);
    }
  });
  return failed === 0 ? 0 : 1;
}

function describe(error: unknown): string {
  if (error instanceof RpcClientError || error instanceof FibArgumentError) return `${error.code} ${error.message}`;
  return String(error);
}

void main(process.argv.slice(2)).then((status) => process.exit(status));
