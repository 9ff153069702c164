import { ChannelModel } from 'amqplib';
import { AmqpConnectSettings } from './amqp-connection';

/**
 * `connecting`: an attempt is in flight; `ready`: set up and usable;
 * `waiting`: lost or failed, a retry is scheduled; `closed`: for good.
 */
export type BrokerLinkState = 'idle' | 'connecting' | 'ready' | 'waiting' | 'closed';

/** What health, metrics and logs show of a link. */
export interface BrokerLinkStatus {
  state: BrokerLinkState;
  /** The node the link is up on (URL without credentials). */
  node?: string;
  /** Why the broker blocks publishing (a resource alarm), while it does. */
  blocked?: string;
  /** Why the link is not up, while it is not. */
  problem?: string;
}

/** Logging as BrokerLink needs it (Nest's Logger fits). */
export interface BrokerLinkLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface BrokerLinkOptions<S> extends AmqpConnectSettings {
  /** The nodes, each a full amqp:// or amqps:// URL; one connection at a time. */
  urls: readonly string[];
  /**
   * Builds the owner's topology on a fresh connection (channels, queues,
   * consumers) and returns what the owner needs of it; throws to fail the
   * attempt. Bounded by `setupTimeoutMs`.
   */
  setup(connection: ChannelModel, node: string): Promise<S>;
  /** The link is ready with this session. */
  onUp?(session: S, node: string): void;
  /** The session's link is gone (lost, dropped, or closing); called once per session. */
  onDown?(session: S, reason: string): void;
  /**
   * An attempt failed; `consecutive` counts the failures since the link was
   * last up (equal to the number of nodes: every node has been tried once).
   */
  onAttemptFailed?(consecutive: number): void;
  /** The broker blocked (reason) or unblocked (undefined) publishing on the live link. */
  onFlow?(blocked: string | undefined): void;
  /** Turns a failed attempt's error into one clear line (e.g. naming the setting to change). */
  explain?(error: unknown): string | undefined;
  logger: BrokerLinkLogger;
  /**
   * Deadline of the set-up step, in ms.
   * @default connectTimeoutMs
   */
  setupTimeoutMs?: number;
  /**
   * First and largest delay between retries, in ms (doubling, with jitter).
   * @default [100, 5000]
   */
  reconnectDelayMs?: readonly [min: number, max: number];
  /** Opens a connection; tests pass a fake whose steps resolve when they say so. */
  connect?: (url: string) => Promise<ChannelModel>;
  /** Source of randomness for the node order (tests pin it). */
  random?: () => number;
}
