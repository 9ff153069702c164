import { RpcServerSpan } from '@app/observability';
import {
  DEADLINE_HEADER,
  encodeErrorReply,
  ERROR_CONTENT_TYPE,
  ERROR_REPLY_TYPE,
  isRpcErrorCode,
  RpcErrorBody,
  RpcErrorCode,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import {
  infoLineStart,
  jsonNumber,
  jsonString,
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  writeInfoLine,
} from '@app/observability';
import { MessageHandler } from '@nestjs/microservices';
import { ConsumeMessage, Options } from 'amqplib';
import { PinoLogger } from 'nestjs-pino';
import type { Logger as PinoInstance } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { RateLimitedWarning } from './rate-limited-warning';
import { ReplyOutcome } from './reply-publisher.interfaces';
import { judgeDeadline } from './request-deadline';
import { RpcQueueContext } from './rpc-queue.context';
import { RpcQueueServerStats } from './rpc-queue.interfaces';
import { WorkerSession } from './worker-session';

/** At most one line per cause in this interval: a peer may send such requests at any rate. */
const ODD_REPLY_LOG_INTERVAL_MS = 10_000;

interface Logger {
  warn(message: string): void;
}

/**
 * One request, start to end: its deadline judged, the handler run, the reply
 * published, and the request acked exactly once when the reply is confirmed
 * or definitively refused — or left unacked, for the broker to redeliver,
 * when its link went down first.
 */
export class RequestAnswerer {
  private readonly undeliverable: RateLimitedWarning;
  private readonly unpublishable: RateLimitedWarning;
  private skewWarned = false;

  constructor(
    private readonly handler: MessageHandler,
    private readonly stats: RpcQueueServerStats,
    private readonly logger: Logger,
  ) {
    this.undeliverable = new RateLimitedWarning((line) => logger.warn(line), ODD_REPLY_LOG_INTERVAL_MS);
    this.unpublishable = new RateLimitedWarning((line) => logger.warn(line), ODD_REPLY_LOG_INTERVAL_MS);
  }

  async answer(message: ConsumeMessage, session: WorkerSession, span: RpcServerSpan): Promise<void> {
    const startedAt = performance.now();
    const { replyTo, correlationId, headers, expiration } = message.properties as {
      replyTo?: string;
      correlationId?: string;
      headers?: Record<string, unknown>;
      expiration?: unknown;
    };
    if (!replyTo) {
      this.stats.dropped++;
      this.logger.warn(`request without reply_to dropped (correlation id ${printable(correlationId)})`);
      span.end('dropped');
      session.acks.done(message);
      return;
    }
    const verdict = judgeDeadline(headers?.[DEADLINE_HEADER], expiration, Date.now());
    if (verdict === 'expired') {
      // Its caller has given up: computing it would be work for nobody.
      this.stats.expired++;
      span.end('expired');
      session.acks.done(message);
      return;
    }
    if (verdict === 'skewed') this.noteSkew(headers?.[DEADLINE_HEADER], expiration);
    let body: Buffer;
    let failure: RpcErrorBody | undefined;
    try {
      const result: unknown = await this.handler(message.content, new RpcQueueContext([message, session.channel]));
      const value: unknown = isObservable(result) ? await lastValueFrom(result) : result;
      body = Buffer.from(String(value), 'latin1');
    } catch (error) {
      failure = toErrorBody(error);
      body = encodeErrorReply(failure.code, failure.message);
    }
    const properties: Options.Publish =
      failure === undefined
        ? { correlationId, contentType: TEXT_CONTENT_TYPE }
        : { correlationId, contentType: ERROR_CONTENT_TYPE, type: ERROR_REPLY_TYPE };
    const outcome = await new Promise<ReplyOutcome>((settle) =>
      session.replies.publish({ replyTo, body, properties, settle }),
    );
    // Its link went down first: unacked, the request goes back to the queue and is answered again.
    if (outcome === 'lost') {
      span.end('lost');
      return;
    }
    this.count(outcome, failure, replyTo, correlationId);
    span.end(
      outcome === 'confirmed' ? (failure?.code ?? 'ok') : outcome === 'unencodable' ? 'UNPUBLISHABLE' : 'UNDELIVERABLE',
    );
    session.acks.done(message);
    try {
      logAnswer(message, failure?.code ?? 'ok', outcome, startedAt);
    } catch {
      // A log line must never take the worker down; the reply and ack are already out.
    }
  }

  private count(outcome: ReplyOutcome, failure: RpcErrorBody | undefined, replyTo: string, id?: string): void {
    if (outcome === 'confirmed') {
      if (failure === undefined) this.stats.answered++;
      else this.stats.failed[failure.code] = (this.stats.failed[failure.code] ?? 0) + 1;
      return;
    }
    // Named only when something is said: building it cost every answered request ≈ 1 % of the worker's CPU.
    const reply = `reply to ${printable(replyTo)} (correlation id ${printable(id)})`;
    if (outcome === 'unencodable') {
      this.stats.unpublishable++;
      this.unpublishable.say(`${reply} not published: a property cannot be encoded; request acked`);
    } else {
      this.stats.undeliverable++;
      const why =
        outcome === 'unreachable'
          ? 'the broker cannot resolve that address (publishing to it closes the connection)'
          : 'the broker refused it (nack)';
      this.undeliverable.say(`${reply} not delivered: ${why}; request acked without a reply`);
    }
  }

  /** Counted every time, said once: a skewed clock stays skewed. */
  private noteSkew(deadline: unknown, expiration: unknown): void {
    this.stats.clockSkewed++;
    if (this.skewWarned) return;
    this.skewWarned = true;
    const late = Date.now() - Number(deadline);
    this.logger.warn(
      `a request is past its deadline by ${late} ms, more than its whole budget (expiration ${String(expiration)} ms): ` +
        "this host's clock seems ahead of its caller's; such requests are computed anyway (said once)",
    );
  }
}

/** One line per request: correlation id, the caller's request id (message_id) and traceparent, n, outcome, duration. */
function logAnswer(message: ConsumeMessage, outcome: string, reply: ReplyOutcome, startedAt: number): void {
  // Straight to pino: Nest's Logger adds two layers and an AsyncLocalStorage lookup per line.
  // Undefined when the app has no nestjs-pino LoggerModule: then there is no request line.
  const log = PinoLogger.root as PinoLogger['logger'] | undefined;
  if (log === undefined || !log.isLevelEnabled('info')) return;
  const { correlationId, messageId, headers } = message.properties as {
    correlationId?: string;
    messageId?: string;
    headers?: Record<string, unknown>;
  };
  writeAnswerLine(log, {
    context: 'RpcQueueServer',
    correlationId,
    // Our gateway sends the request id as message_id; other callers may use an x-request-id header.
    requestId: messageId ?? headers?.[REQUEST_ID_HEADER],
    traceparent: headers?.[TRACEPARENT_HEADER],
    n: message.content.toString('latin1', 0, 24),
    outcome,
    reply: reply === 'confirmed' ? undefined : reply,
    redelivered: message.fields.redelivered || undefined,
    durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
  });
}

/** The fields of the worker's `rpc answered` line, in the line's order; an undefined one is left out. */
export interface AnswerLine {
  context: 'RpcQueueServer';
  correlationId: string | undefined;
  requestId: unknown;
  traceparent: unknown;
  n: string;
  outcome: string;
  reply: string | undefined;
  redelivered: true | undefined;
  durationMs: number;
}

/**
 * Writes `log.info(fields, 'rpc answered')`'s bytes (request-answerer.spec.ts compares them) from one
 * template, without pino's walk of the keys and its mixin's object per line.
 */
export function writeAnswerLine(log: PinoInstance, fields: AnswerLine): void {
  let line = infoLineStart(log);
  if (line === null) return;
  // A peer's header may be any AMQP value (a number, bytes, a table): pino writes those.
  if (line === undefined || !stringOrNone(fields.requestId) || !stringOrNone(fields.traceparent)) {
    return void log.info(fields, 'rpc answered');
  }
  line += ',"context":"RpcQueueServer"';
  if (fields.correlationId !== undefined) line += `,"correlationId":${jsonString(fields.correlationId)}`;
  if (fields.requestId !== undefined) line += `,"requestId":${jsonString(fields.requestId)}`;
  if (fields.traceparent !== undefined) line += `,"traceparent":${jsonString(fields.traceparent)}`;
  line += `,"n":${jsonString(fields.n)},"outcome":${jsonString(fields.outcome)}`;
  if (fields.reply !== undefined) line += `,"reply":${jsonString(fields.reply)}`;
  if (fields.redelivered !== undefined) line += ',"redelivered":true';
  writeInfoLine(log, `${line},"durationMs":${jsonNumber(fields.durationMs)}`, 'rpc answered');
}

function stringOrNone(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

/** A property for a log line: short, and without the replacement characters of undecodable bytes. */
function printable(value: string | undefined): string {
  if (value === undefined) return 'none';
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return JSON.stringify(shown);
}

/** What Nest's RPC exception layer hands back: `RpcException.getError()` or `{status, message}`. */
function toErrorBody(error: unknown): RpcErrorBody {
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as Record<string, unknown>;
    if (isRpcErrorCode(code) && typeof message === 'string') return { code, message };
  }
  return { code: RpcErrorCode.INTERNAL, message: 'internal error computing the reply' };
}
