/** HTTP and AMQP header carrying the request id end to end (generated when absent). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** W3C trace context header, passed through unchanged when present. */
export const TRACEPARENT_HEADER = 'traceparent';

/** Token of the app's prom-client Registry. */
export const METRICS_REGISTRY = 'OBSERVABILITY:METRICS_REGISTRY';
