import { isRpcErrorCode, RpcErrorBody, RpcErrorCode } from './rpc-error-code';

/** Body of an error reply: `{"code": C, "message": M}`. */
export function encodeErrorReply(code: RpcErrorCode, message: string): Buffer {
  return Buffer.from(JSON.stringify({ code, message } satisfies RpcErrorBody));
}

/**
 * Reads an error reply body; a body that is not the contract's JSON still
 * yields an INTERNAL error rather than throwing, so a broken peer cannot
 * break the caller.
 */
export function decodeErrorReply(body: Buffer): RpcErrorBody {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null) {
      const { code, message } = parsed as Record<string, unknown>;
      if (isRpcErrorCode(code)) {
        return { code, message: typeof message === 'string' ? message : code };
      }
    }
  } catch {
    // fall through: not JSON
  }
  return { code: RpcErrorCode.INTERNAL, message: `malformed error reply: ${body.toString('utf8', 0, 64)}` };
}
