import { Context, context, isSpanContextValid, propagation, Span, SpanKind, trace } from '@opentelemetry/api';
import { AmqpHeaders, amqpHeadersSetter } from './amqp-headers.propagation';
import { codesOf, endWithOutcome, fibNOf } from './rpc-span.outcome';
import { tracer, tracingActive } from './tracing.active';
import {
  FIB_N,
  MESSAGING_BODY_SIZE,
  MESSAGING_CONVERSATION_ID,
  MESSAGING_DESTINATION,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
  MESSAGING_ROUTING_KEY,
  MESSAGING_SYSTEM,
  RpcSpanEvent,
} from './tracing.constants';

/**
 * The CLIENT span of one RPC call (`send <queue>`), from the call to its
 * outcome. Without an SDK it is a shared no-op: the client calls it
 * unconditionally.
 */
export interface RpcClientSpan {
  /**
   * The request goes out (again) with this correlation id: writes the span's
   * `traceparent`/`tracestate` into its AMQP headers (over any the caller
   * passed). A second send is recorded as a `resent` event.
   */
  sent(headers: AmqpHeaders, correlationId: string): void;
  event(name: RpcSpanEvent): void;
  /** Ends the span when `reply` settles (ok, or the rejection's `code`); returns `reply` itself. */
  endWith<T>(reply: Promise<T>): Promise<T>;
}

const NO_SPAN: RpcClientSpan = {
  sent: () => undefined,
  event: () => undefined,
  endWith: (reply) => reply,
};

class TracedRpcCall implements RpcClientSpan {
  private sends = 0;

  constructor(
    private readonly span: Span,
    /** The parent's context with this span in it: what is injected, whatever context a re-send runs in. */
    private readonly context: Context,
  ) {}

  sent(headers: AmqpHeaders, correlationId: string): void {
    propagation.inject(this.context, headers, amqpHeadersSetter);
    if (this.sends++ === 0) this.span.setAttribute(MESSAGING_CONVERSATION_ID, correlationId);
    else this.span.addEvent('resent', { [MESSAGING_CONVERSATION_ID]: correlationId });
  }

  event(name: RpcSpanEvent): void {
    this.span.addEvent(name);
  }

  endWith<T>(reply: Promise<T>): Promise<T> {
    reply.then(
      () => endWithOutcome(this.span, 'ok'),
      (error: unknown) => {
        const { code, remoteCode } = codesOf(error);
        endWithOutcome(this.span, code, remoteCode);
      },
    );
    return reply;
  }
}

/**
 * Starts the span of a call to `queue`, the child of `parent` (the gateway
 * passes its HTTP request's) or else of the active span.
 */
export function startRpcClientSpan(queue: string, body: Buffer, parent?: Context): RpcClientSpan {
  if (!tracingActive()) return NO_SPAN;
  parent ??= context.active();
  const span = tracer().startSpan(`send ${queue}`, { kind: SpanKind.CLIENT }, parent);
  // Set after the sampling decision (our samplers need none of them): a span sampled out costs no attribute work.
  if (span.isRecording()) {
    span.setAttributes({
      [MESSAGING_SYSTEM]: 'rabbitmq',
      [MESSAGING_DESTINATION]: queue,
      [MESSAGING_ROUTING_KEY]: queue,
      [MESSAGING_OPERATION_NAME]: 'send',
      [MESSAGING_OPERATION_TYPE]: 'send',
      [MESSAGING_BODY_SIZE]: body.length,
      [FIB_N]: fibNOf(body),
    });
  }
  // Sampled out with a valid context: still injected, so the worker makes the same decision.
  if (!span.isRecording() && !isSpanContextValid(span.spanContext())) return NO_SPAN;
  return new TracedRpcCall(span, trace.setSpan(parent, span));
}
