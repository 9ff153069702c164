import { ChannelModel } from 'amqplib';
import { backoffDelayMs, closeConnection, connectAmqp, describeError, destroyConnection } from './amqp-connection';
import { describeEndpoint } from './amqp-url';
import { BrokerLinkOptions, BrokerLinkState, BrokerLinkStatus } from './broker-link.interfaces';

interface Attempt {
  readonly generation: number;
  readonly node: string;
  connection?: ChannelModel;
}

interface Up<S> {
  readonly generation: number;
  readonly node: string;
  readonly connection: ChannelModel;
  readonly session: S;
}

/** A link must live this long for its loss to be retried at once rather than backed off. */
const STABLE_LINK_MS = 2000;

/** A setup step that did not finish in time. */
class SetupTimeoutError extends Error {
  override readonly name = 'SetupTimeoutError';
  constructor(timeoutMs: number) {
    super(`broker set-up did not finish within ${timeoutMs} ms`);
  }
}

/**
 * One broker link, as an explicit state machine shared by the RPC client and
 * the worker transport: connect to one node of a list (shuffled per process,
 * the next node first after a loss), bound every attempt, run the owner's
 * set-up, notice a lost link, back off and try again, stop cleanly on close().
 *
 *   idle → connecting → ready → waiting → connecting → … ; any → closed
 *
 * Every attempt carries a generation. Whatever ends an attempt or a link
 * (its connection closing, the owner's `drop()`, `close()`) moves the
 * generation on, so an attempt resuming after an `await` finds it is stale,
 * closes what it opened and stops: a stale attempt can never make the link
 * ready, and exactly one retry is ever scheduled.
 */
export class BrokerLink<S> {
  private state: BrokerLinkState = 'idle';
  private generation = 0;
  private attempt: Attempt | undefined;
  private up: Up<S> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the link was last up: the backoff's exponent. */
  private retries = 0;
  /** Links in a row lost soon after they came up: a flapping path backs off too. */
  private flaps = 0;
  private failuresSinceUp = 0;
  private readonly order: string[];
  private cursor = 0;
  private lastProblem: string | undefined;
  /** Per node: the problem last logged and when, so a cause that repeats is not logged at every retry. */
  private readonly logged = new Map<string, { problem: string; at: number }>();
  private readyAt = 0;
  private blockedReason: string | undefined;
  private firstAttempt: Promise<void> | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly connectFn: NonNullable<BrokerLinkOptions<S>['connect']>;

  constructor(private readonly options: BrokerLinkOptions<S>) {
    if (options.urls.length === 0) throw new Error('BrokerLink needs at least one broker URL');
    this.order = shuffle([...options.urls], options.random ?? Math.random);
    this.connectFn = options.connect ?? ((url) => connectAmqp(url, options));
  }

  /** Where the link stands, derived from the one state machine (for health, metrics and callers). */
  get status(): BrokerLinkStatus {
    return {
      state: this.state,
      node: this.up?.node,
      // A block seen during set-up holds for the link it makes (the broker sends it once).
      blocked: this.state === 'ready' || this.state === 'connecting' ? this.blockedReason : undefined,
      problem: this.state === 'ready' ? undefined : this.lastProblem,
    };
  }

  /** The set-up session of the live link; undefined unless ready. */
  get session(): S | undefined {
    return this.up?.session;
  }

  /** The live connection; undefined unless ready. */
  get connection(): ChannelModel | undefined {
    return this.up?.connection;
  }

  /** Starts connecting; resolves once the first attempt has ended, whatever its outcome (it keeps retrying). */
  start(): Promise<void> {
    if (this.state === 'idle') {
      this.firstAttempt = this.connectNext();
    }
    return this.firstAttempt ?? Promise.resolve();
  }

  /**
   * The owner found the live link dead (e.g. its periodic round trip got no
   * answer in time): treat it exactly like a closed connection.
   */
  drop(reason: string): void {
    const up = this.up;
    if (up === undefined) return;
    this.lose(up.generation, reason);
  }

  /** Stops for good: no timer, connection or retry survives the returned promise. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const up = this.up;
    this.state = 'closed';
    this.generation++;
    this.up = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (up !== undefined) {
      this.options.onDown?.(up.session, 'closing');
      await closeConnection(up.connection);
    }
    // An attempt in flight sees it is stale at its next step and closes what it opened.
    await this.inFlight;
  }

  private isCurrent(generation: number): boolean {
    return generation === this.generation && this.state !== 'closed';
  }

  private connectNext(): Promise<void> {
    const generation = ++this.generation;
    const url = this.order[this.cursor++ % this.order.length];
    const attempt: Attempt = { generation, node: describeEndpoint(url) };
    this.attempt = attempt;
    this.state = 'connecting';
    this.blockedReason = undefined;
    const run = this.run(attempt, url);
    this.inFlight = run;
    return run;
  }

  private async run(attempt: Attempt, url: string): Promise<void> {
    const { generation, node } = attempt;
    try {
      const connection = await this.connectFn(url);
      // Listeners go on before anything else can happen to this connection.
      this.watch(connection, generation);
      attempt.connection = connection;
      if (!this.isCurrent(generation)) {
        await closeConnection(connection);
        return;
      }
      const session = await this.withSetupDeadline(this.options.setup(connection, node), connection, generation);
      if (!this.isCurrent(generation)) {
        await closeConnection(connection);
        return;
      }
      this.up = { generation, node, connection, session };
      this.attempt = undefined;
      this.state = 'ready';
      this.readyAt = Date.now();
      this.failuresSinceUp = 0;
      this.retries = 0;
      this.lastProblem = undefined;
      this.options.onUp?.(session, node);
      if (this.blockedReason !== undefined) this.options.onFlow?.(this.blockedReason);
    } catch (error) {
      const connection = attempt.connection;
      if (connection !== undefined) destroyConnection(connection, 'attempt abandoned');
      this.fail(generation, `cannot connect to ${node}: ${this.options.explain?.(error) ?? describeError(error)}`);
    }
  }

  /**
   * Bounds the set-up, except while the broker blocks the connection (a resource alarm): it then reads
   * nothing until the block ends, so the deadline starts again from the unblock rather than destroying a
   * healthy connection and churning new ones against a broker already short of memory.
   */
  private withSetupDeadline(setup: Promise<S>, connection: ChannelModel, generation: number): Promise<S> {
    const timeoutMs = this.options.setupTimeoutMs ?? this.options.connectTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      const expire = (): void => {
        if (this.blockedReason !== undefined && this.isCurrent(generation)) {
          timer = setTimeout(expire, timeoutMs);
          return;
        }
        destroyConnection(connection, 'set-up timed out');
        reject(new SetupTimeoutError(timeoutMs));
      };
      timer = setTimeout(expire, timeoutMs);
    });
    return Promise.race([setup, deadline]).finally(() => clearTimeout(timer));
  }

  private watch(connection: ChannelModel, generation: number): void {
    connection.on('error', (error: unknown) => {
      if (this.isCurrent(generation)) this.lastProblem = describeError(error);
    });
    connection.on('close', (error: unknown) => {
      const why = error === undefined ? 'connection closed' : `connection closed: ${describeError(error)}`;
      if (this.up?.generation === generation) this.lose(generation, why);
      else if (this.attempt?.generation === generation) {
        const cause = error === undefined ? why : (this.options.explain?.(error) ?? why);
        this.fail(generation, `cannot set up ${this.attempt.node}: ${cause}`);
      }
    });
    connection.on('blocked', (reason: unknown) => {
      if (!this.isCurrent(generation)) return;
      this.blockedReason = typeof reason === 'string' && reason !== '' ? reason : 'blocked by the broker';
      const node = this.up?.node ?? this.attempt?.node ?? 'the connection';
      this.options.logger.warn(`broker blocked publishing on ${node}: ${this.blockedReason}`);
      if (this.up !== undefined) this.options.onFlow?.(this.blockedReason);
    });
    connection.on('unblocked', () => {
      if (!this.isCurrent(generation)) return;
      this.blockedReason = undefined;
      this.options.logger.log('broker unblocked publishing');
      if (this.up !== undefined) this.options.onFlow?.(undefined);
    });
  }

  /** A ready link is gone: tell the owner, then reconnect, another node first. */
  private lose(generation: number, reason: string): void {
    const up = this.up;
    if (up === undefined || up.generation !== generation || !this.isCurrent(generation)) return;
    this.generation++;
    this.up = undefined;
    this.state = 'waiting';
    this.lastProblem = reason;
    this.blockedReason = undefined;
    destroyConnection(up.connection, reason);
    this.options.logger.warn(`link to ${up.node} lost (${reason}); reconnecting`);
    this.options.onDown?.(up.session, reason);
    // After a link that lived a while, retry at once (on the next node): a node loss costs one
    // reconnect. A link lost right after it came up backs off instead, so a flapping path cannot spin.
    const lived = Date.now() - this.readyAt >= STABLE_LINK_MS;
    if (lived) this.flaps = 0;
    this.scheduleRetry(lived ? 0 : backoffDelayMs(this.flaps++, this.options.reconnectDelayMs ?? [100, 5000]));
  }

  /** The current attempt failed: one log line per cause, then back off. */
  private fail(generation: number, problem: string): void {
    if (!this.isCurrent(generation) || this.up !== undefined) return;
    const node = this.attempt?.node ?? '';
    this.generation++;
    this.attempt = undefined;
    this.state = 'waiting';
    this.lastProblem = problem;
    this.logProblem(node, problem);
    this.options.onAttemptFailed?.(++this.failuresSinceUp);
    this.scheduleRetry(backoffDelayMs(this.retries++, this.options.reconnectDelayMs ?? [100, 5000]));
  }

  /** The same cause at every retry would flood the log: say it when it changes for that node, else every 30 s. */
  private logProblem(node: string, problem: string): void {
    const now = Date.now();
    const last = this.logged.get(node);
    if (last !== undefined && last.problem === problem && now - last.at < 30_000) return;
    this.logged.set(node, { problem, at: now });
    this.options.logger.warn(`${problem}; retrying`);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.state === 'closed') return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === 'waiting') void this.connectNext();
    }, delayMs);
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
