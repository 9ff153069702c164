import { Logger, symbols } from 'pino';
import { logTraceFields, logTraceJson } from './tracing/log-trace.mixin';

/** What of pino's logger an info line is written with: its level prefix, time, bindings, line end and stream. */
interface PinoInternals {
  [symbols.lsCacheSym]: Record<number, string>;
  [symbols.timeSym]: () => string;
  [symbols.chindingsSym]: string;
  [symbols.endSym]: string;
  [symbols.streamSym]: { write(line: string): unknown };
}

/** pino's symbols, some of which its type declarations leave out. */
const sym = symbols as unknown as Record<string, symbol>;

/**
 * Serializers a logger may have that touch none of the templated lines' fields (pino's `err`,
 * pino-http's `req` and `res`).
 */
const HARMLESS_SERIALIZERS = new Set(['err', 'req', 'res']);

/** Per logger: whether pino would write a line exactly as the template does (see templated). */
const templatable = new WeakMap<Logger, boolean>();

/**
 * True when `log` is set up as loggerOptions sets it up, so that pino writes what the template
 * writes: our mixin or none, the default merge, no log formatter, message prefix, nested or other
 * message key, serializer of a field, redaction, log hooks, or stream that reads a line's metadata
 * (pino.multistream); info at pino's own number. Anything else goes through pino.
 */
function templated(log: Logger): boolean {
  let answer = templatable.get(log);
  if (answer !== undefined) return answer;
  const internals = log as unknown as Record<symbol, unknown>;
  const mixin = internals[sym.mixinSym];
  const hooks = internals[sym.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stream = internals[sym.streamSym] as Record<symbol, unknown>;
  answer =
    (mixin === undefined || mixin === logTraceFields) &&
    internals[sym.mixinMergeStrategySym] === undefined &&
    (internals[sym.formattersSym] as { log?: unknown }).log === undefined &&
    internals[sym.msgPrefixSym] === undefined &&
    internals[sym.messageKeySym] === 'msg' &&
    (internals[sym.nestedKeySym] ?? undefined) === undefined &&
    Object.keys(internals[sym.serializersSym] as object).every((key) => HARMLESS_SERIALIZERS.has(key)) &&
    Reflect.ownKeys(internals[sym.stringifiersSym] as object).length === 0 &&
    hooks?.logMethod === undefined &&
    hooks?.streamWrite === undefined &&
    stream[sym.needsMetadataGsym] === undefined &&
    log.levels.values.info === INFO;
  templatable.set(log, answer);
  return answer;
}

const INFO = 30;

/**
 * A string as pino writes it, for the strings these lines hold: JSON.stringify's escapes (pino writes
 * a lone surrogate in a short string raw; no input here can hold one: URLs and AMQP values are decoded
 * from bytes).
 */
export const jsonString = JSON.stringify as (value: string) => string;

/** A number as pino writes it: a non-finite one as null (JSON has no NaN). */
export const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/**
 * The start of the line `log.info(obj, msg)` writes, up to the first of obj's fields: pino's level
 * prefix, time, bindings and, with our mixin, the shown span's trace fields (pino puts the mixin's
 * fields before obj's). `null` when nothing is written at info; undefined when only pino can write
 * the line (a logger set up otherwise than loggerOptions sets it up).
 */
export function infoLineStart(log: Logger): string | null | undefined {
  if (!log.isLevelEnabled('info')) return null;
  if (!templated(log)) return undefined;
  const pino = log as unknown as PinoInternals;
  const start = `${pino[symbols.lsCacheSym][INFO]}${pino[symbols.timeSym]()}${pino[symbols.chindingsSym]}`;
  return (log as unknown as Record<symbol, unknown>)[sym.mixinSym] === undefined ? start : start + logTraceJson();
}

/** Ends and writes a line begun with infoLineStart and its fields: the message, pino's line end. */
export function writeInfoLine(log: Logger, line: string, msg: string): void {
  const pino = log as unknown as PinoInternals;
  pino[symbols.streamSym].write(`${line},"msg":${jsonString(msg)}${pino[symbols.endSym]}`);
}
