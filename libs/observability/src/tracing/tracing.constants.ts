/** Instrumentation scope of the spans this project makes. */
export const TRACER_NAME = 'fib-rpc';

/** OpenTelemetry messaging attributes (semantic conventions 1.27+) for RabbitMQ. */
export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_DESTINATION = 'messaging.destination.name';
export const MESSAGING_ROUTING_KEY = 'messaging.rabbitmq.destination.routing_key';
export const MESSAGING_CONVERSATION_ID = 'messaging.message.conversation_id';
export const MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_BODY_SIZE = 'messaging.message.body.size';
export const ERROR_TYPE = 'error.type';

/** The request's n, when its body is a short decimal integer (the fib request). */
export const FIB_N = 'fib.n';
/** The worker's error code inside a REMOTE failure of the client span. */
export const REMOTE_CODE = 'fib_rpc.remote_code';

/** Span events: the call waited for the next link (failover), was sent again after a lost link. */
export type RpcSpanEvent = 'held' | 'resent' | 'redelivered';

/** OpenTelemetry HTTP server attributes (semantic conventions 1.23+). */
export const HTTP_REQUEST_METHOD = 'http.request.method';
export const HTTP_ROUTE = 'http.route';
export const HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const URL_PATH = 'url.path';
export const URL_SCHEME = 'url.scheme';
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
