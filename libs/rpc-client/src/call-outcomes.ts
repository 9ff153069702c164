import { decodeErrorReply, ERROR_REPLY_TYPE } from '@app/contracts';
import { ConsumeMessage } from 'amqplib';
import {
  BrokerUnavailableError,
  ClientClosedError,
  ConnectionLostError,
  FlowControlError,
  OverloadedError,
  RemoteRpcError,
  RpcClientError,
  RpcTimeoutError,
} from './errors';
import { Admission, deadlineOutcome } from './failover.policy';
import { PendingCall, PendingCalls } from './pending-calls';

/** The error a call gets at its deadline, by where it stood (see deadlineOutcome). */
export function deadlineError(call: PendingCall, queue: string): RpcClientError {
  switch (deadlineOutcome(call.state)) {
    case 'BROKER_UNAVAILABLE':
      return new BrokerUnavailableError(queue);
    case 'CONNECTION_LOST':
      return new ConnectionLostError(queue, call.id);
    default:
      return new RpcTimeoutError(queue, call.id, call.timeoutMs);
  }
}

/**
 * Settles the call a reply is for: its body as latin1 text, or REMOTE for an error reply.
 * False when no call waits for it (late, duplicate or foreign).
 */
export function settleReply(pending: PendingCalls, message: ConsumeMessage, queue: string): boolean {
  const { correlationId, type } = message.properties as { correlationId?: string; type?: string };
  const call = correlationId === undefined ? undefined : pending.get(correlationId);
  if (call === undefined) return false;
  if (type === ERROR_REPLY_TYPE) {
    const { code, message: text } = decodeErrorReply(message.content);
    pending.fail(call, new RemoteRpcError(queue, call.id, code, text));
  } else {
    pending.succeed(call, message.content.toString('latin1'));
  }
  return true;
}

/** The error of a call the client does not take; undefined for one it takes (hold, recheck or send). */
export function refusalError(
  admission: Admission,
  queue: string,
  facts: { maxInFlight: number; flowHeld: string | undefined },
): RpcClientError | undefined {
  switch (admission) {
    case 'closed':
      return new ClientClosedError(queue);
    case 'unavailable':
      return new BrokerUnavailableError(queue);
    case 'overloaded':
      return new OverloadedError(queue, facts.maxInFlight);
    case 'flow-control':
      return new FlowControlError(queue, facts.flowHeld ?? 'held back');
    default:
      return undefined;
  }
}
