import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { ConsumeMessage } from 'amqplib';
import { AmqpHeaders, amqpHeadersGetter } from './amqp-headers.propagation';
import { showSpanInLogs } from './log-trace.mixin';
import { endWithOutcome, fibNOf } from './rpc-span.outcome';
import { tracer, tracingActive } from './tracing.active';
import {
  FIB_N,
  MESSAGING_BODY_SIZE,
  MESSAGING_CONVERSATION_ID,
  MESSAGING_DESTINATION,
  MESSAGING_MESSAGE_ID,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
  MESSAGING_ROUTING_KEY,
  MESSAGING_SYSTEM,
} from './tracing.constants';

/** The worker's span of one delivery; `end` with 'ok' or the outcome (an error code, 'expired', 'dropped'). */
export interface RpcServerSpan {
  end(outcome: string): void;
}

const NO_SPAN: RpcServerSpan = { end: () => undefined };
const NO_HEADERS: AmqpHeaders = {};

/**
 * Runs `handle` inside the SERVER span (`process <queue>`) of one delivery,
 * the child of the context in the request's `traceparent`/`tracestate`; a
 * request without them (a tutorial peer) starts a new trace. Log lines written in `handle`'s synchronous part and right after `end`
 * carry the span's ids (no async context manager: see showSpanInLogs).
 * Without an SDK: `handle(no-op)`.
 */
export function withRpcServerSpan<T>(queue: string, message: ConsumeMessage, handle: (span: RpcServerSpan) => T): T {
  if (!tracingActive()) return handle(NO_SPAN);
  const { headers, correlationId, messageId } = message.properties as {
    headers?: AmqpHeaders;
    correlationId?: string;
    messageId?: string;
  };
  // From the message only: whatever context the consumer callback runs in is not this request's.
  const parent = propagation.extract(ROOT_CONTEXT, headers ?? NO_HEADERS, amqpHeadersGetter);
  const span = tracer().startSpan(`process ${queue}`, { kind: SpanKind.SERVER }, parent);
  // Set after the sampling decision (our samplers need none of them): a span sampled out costs no attribute work.
  if (span.isRecording()) {
    span.setAttributes({
      [MESSAGING_SYSTEM]: 'rabbitmq',
      [MESSAGING_DESTINATION]: queue,
      [MESSAGING_ROUTING_KEY]: message.fields.routingKey,
      [MESSAGING_OPERATION_NAME]: 'process',
      [MESSAGING_OPERATION_TYPE]: 'process',
      [MESSAGING_CONVERSATION_ID]: correlationId,
      [MESSAGING_MESSAGE_ID]: messageId,
      [MESSAGING_BODY_SIZE]: message.content.length,
      [FIB_N]: fibNOf(message.content),
    });
  }
  if (message.fields.redelivered) span.addEvent('redelivered');
  const spanContext = span.spanContext();
  const serverSpan: RpcServerSpan = {
    end: (outcome) => {
      endWithOutcome(span, outcome);
      // the worker's `rpc answered` line follows at once
      showSpanInLogs(spanContext);
    },
  };
  showSpanInLogs(spanContext);
  return context.with(trace.setSpan(parent, span), handle, undefined, serverSpan);
}
