/** Codes an error reply may carry (the `code` of its JSON body). */
export const RpcErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  INTERNAL: 'INTERNAL',
} as const;

export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** Body of an error reply. */
export interface RpcErrorBody {
  code: RpcErrorCode;
  message: string;
}

export function isRpcErrorCode(value: unknown): value is RpcErrorCode {
  return value === 'INVALID_ARGUMENT' || value === 'OUT_OF_RANGE' || value === 'INTERNAL';
}
