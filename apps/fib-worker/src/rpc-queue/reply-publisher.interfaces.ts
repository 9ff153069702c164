import { ChannelModel, Options } from 'amqplib';
import { UnreachableReplyAddresses } from './unreachable-reply-addresses';

/**
 * How a reply ended: `confirmed` by the broker; `refused` (nacked) or
 * `unreachable` (its address closed the connection): the broker will not take
 * it; `unencodable`: amqplib could not encode a property, nothing was sent;
 * `lost`: its link is gone, so its request must not be acked (it is redelivered).
 */
export type ReplyOutcome = 'confirmed' | 'refused' | 'unreachable' | 'unencodable' | 'lost';

export interface Reply {
  readonly replyTo: string;
  readonly body: Buffer;
  readonly properties: Options.Publish;
  /** How the reply ended; a reply may be settled more than once only as a no-op (a promise's resolve). */
  settle(outcome: ReplyOutcome): void;
}

export interface ReplyPublisherOptions {
  /** Opens a fresh connection to the link's node. */
  connect(): Promise<ChannelModel>;
  /** Addresses found unreachable, shared by every link of the worker. */
  unreachable: UnreachableReplyAddresses;
  /** The broker closed the reply connection with 541; `inFlight` replies are re-sent, the culprit searched for. */
  onRefusedClose(error: unknown, inFlight: number): void;
  /** The reply path cannot go on (closed for another reason, cannot be reopened): the owner drops the link. */
  onBroken(reason: string): void;
}
