import { Span, SpanStatusCode } from '@opentelemetry/api';
import { ERROR_TYPE, REMOTE_CODE } from './tracing.constants';

/** Ends `span` with a call's outcome: 'ok' leaves the status unset, anything else is an error with that code. */
export function endWithOutcome(span: Span, outcome: string, remoteCode?: string): void {
  if (outcome !== 'ok') {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: remoteCode === undefined ? outcome : `${outcome} ${remoteCode}`,
    });
    span.setAttribute(ERROR_TYPE, outcome);
    if (remoteCode !== undefined) span.setAttribute(REMOTE_CODE, remoteCode);
  }
  span.end();
}

/** The `code` (and a remote error's `remoteCode`) of whatever a call rejected with. */
export function codesOf(error: unknown): { code: string; remoteCode?: string } {
  const { code, remoteCode } = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  return {
    code: typeof code === 'string' ? code : 'ERROR',
    remoteCode: typeof remoteCode === 'string' ? remoteCode : undefined,
  };
}

/** n of a fib request body (short ASCII decimal), else undefined: the attribute is left off. */
export function fibNOf(body: Buffer): number | undefined {
  if (body.length === 0 || body.length > 16) return undefined;
  const text = body.toString('latin1');
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
