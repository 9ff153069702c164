import { RpcErrorCode } from '@app/contracts';
import { RemoteRpcError, RpcClientError, RpcClientErrorCode } from '@app/rpc-client';
import { ArgumentsHost } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { httpStatusOf, RpcClientErrorFilter } from './rpc-client-error.filter';

/**
 * An RpcClientError with any code, including those the client is gaining
 * (CANCELLED, FLOW_CONTROL, INVALID_OPTIONS: notes/INTERFACES.md).
 */
class CodedError extends RpcClientError {
  constructor(readonly code: RpcClientErrorCode) {
    super(`failed: ${code}`, 'rpc_queue');
  }
}

const coded = (code: string): RpcClientError => new CodedError(code as RpcClientErrorCode);

interface ReplyRecord {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
  destroyed: boolean;
}

/** Runs the filter on `error` with a reply that records what was written. */
function filterAnswer(error: RpcClientError): ReplyRecord {
  const record: ReplyRecord = { headers: {}, destroyed: false };
  const reply = {
    raw: { destroy: () => (record.destroyed = true) },
    header(name: string, value: string) {
      record.headers[name] = value;
      return reply;
    },
    status(code: number) {
      record.status = code;
      return reply;
    },
    send(body: unknown) {
      record.body = body;
      return reply;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply as unknown as FastifyReply }) };
  new RpcClientErrorFilter().catch(error, host as unknown as ArgumentsHost);
  return record;
}

describe('RpcClientErrorFilter', () => {
  it.each([
    ['TIMEOUT', 504],
    ['NO_WORKER', 503],
    ['BROKER_UNAVAILABLE', 503],
    ['CONNECTION_LOST', 503],
    ['OVERLOADED', 503],
    ['CLIENT_CLOSED', 503],
    ['FLOW_CONTROL', 503],
    ['INVALID_OPTIONS', 500],
  ])('%s → %i', (code, status) => {
    expect(httpStatusOf(coded(code))).toBe(status);
  });

  it('REMOTE → 502 for INTERNAL, 400 for the argument errors', () => {
    expect(httpStatusOf(new RemoteRpcError('q', 'c1', RpcErrorCode.INTERNAL, 'boom'))).toBe(502);
    expect(httpStatusOf(new RemoteRpcError('q', 'c2', RpcErrorCode.OUT_OF_RANGE, 'too big'))).toBe(400);
  });

  it('FLOW_CONTROL → 503 in Nest shape with Retry-After and its code', () => {
    const answer = filterAnswer(coded('FLOW_CONTROL'));
    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toBe('1');
    expect(answer.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'failed: FLOW_CONTROL',
      code: 'FLOW_CONTROL',
    });
  });

  it('INVALID_OPTIONS → 500 without Retry-After', () => {
    const answer = filterAnswer(coded('INVALID_OPTIONS'));
    expect(answer.status).toBe(500);
    expect(answer.headers).toEqual({});
    expect(answer.body).toMatchObject({ statusCode: 500, error: 'Internal Server Error', code: 'INVALID_OPTIONS' });
  });

  it('CANCELLED (the caller disconnected) → nothing written, the connection closed', () => {
    const answer = filterAnswer(coded('CANCELLED'));
    expect(answer).toEqual({ headers: {}, destroyed: true });
  });
});
