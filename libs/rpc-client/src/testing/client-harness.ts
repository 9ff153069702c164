import { RpcClientError } from '../errors';
import { RpcClient } from '../rpc-client';
import { fakeBroker } from './fake-amqp';

/** Opens clients on the fake broker and closes every one after each test. */
export class ClientHarness {
  private readonly clients: RpcClient[] = [];

  /** A client on a fresh fake broker (connections emptied), connected. */
  async open(options: ConstructorParameters<typeof RpcClient>[0] = {}): Promise<RpcClient> {
    fakeBroker.connections.length = 0;
    const client = new RpcClient({ queue: 'q', timeoutMs: 1000, consumerCheckIntervalMs: 60_000, ...options });
    this.clients.push(client);
    await client.connect();
    return client;
  }

  /** Closes this client with the others after the test. */
  track(client: RpcClient): RpcClient {
    this.clients.push(client);
    return client;
  }

  /** A test that made every node refuse, passed or failed, leaves the broker reachable again. */
  async closeAll(): Promise<void> {
    fakeBroker.failConnects = false;
    fakeBroker.initialConsumers = 1;
    await Promise.all(this.clients.splice(0).map((c) => c.close({ drain: false })));
  }
}

/** The code a call ends with ('resolved' if it got a value). */
export function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof RpcClientError ? error.code : `not an RpcClientError: ${String(error)}`),
  );
}

/** Polls every 5 ms; throws after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
