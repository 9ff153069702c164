import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** An AMQP headers table as amqplib gives and takes it. */
export type AmqpHeaders = Record<string, unknown>;

/** Reads `traceparent`/`tracestate` from a request's headers; a peer may have sent them as bytes. */
export const amqpHeadersGetter: TextMapGetter<AmqpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => {
    const value = headers[key];
    if (typeof value === 'string') return value;
    return Buffer.isBuffer(value) ? value.toString('latin1') : undefined;
  },
};

/** Writes them as AMQP long strings. */
export const amqpHeadersSetter: TextMapSetter<AmqpHeaders> = {
  set: (headers, key, value) => {
    headers[key] = value;
  },
};
