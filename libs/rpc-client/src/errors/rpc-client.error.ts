/** Codes of every way a call can fail; tests and callers switch on these. */
export const RpcClientErrorCode = {
  TIMEOUT: 'TIMEOUT',
  REMOTE: 'REMOTE',
  NO_WORKER: 'NO_WORKER',
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  CONNECTION_LOST: 'CONNECTION_LOST',
  OVERLOADED: 'OVERLOADED',
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  CANCELLED: 'CANCELLED',
  FLOW_CONTROL: 'FLOW_CONTROL',
  REJECTED: 'REJECTED',
  INVALID_OPTIONS: 'INVALID_OPTIONS',
} as const;

export type RpcClientErrorCode = (typeof RpcClientErrorCode)[keyof typeof RpcClientErrorCode];

/** Base of every error a call rejects with. */
export abstract class RpcClientError extends Error {
  abstract readonly code: RpcClientErrorCode;

  protected constructor(
    message: string,
    /** The request queue the call was for. */
    readonly queue: string,
  ) {
    super(message);
  }
}
