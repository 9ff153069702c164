import { Logger, symbols } from 'pino';
import { logTraceFields, logTraceJson } from './tracing/log-trace.mixin';

/**
 * What of pino's logger an info line is written with: its own level prefix, time, bindings, line
 * end and stream, and what would make pino write something else (another mixin or merge strategy,
 * a log formatter, a message prefix).
 */
interface PinoInternals {
  [symbols.lsCacheSym]: Record<number, string>;
  [symbols.timeSym]: () => string;
  [symbols.chindingsSym]: string;
  [symbols.endSym]: string;
  [symbols.streamSym]: { write(line: string): unknown };
  [symbols.mixinSym]?: unknown;
  [symbols.formattersSym]: { log?: unknown };
}

/** pino has these symbols; its type declarations leave them out. */
const { mixinMergeStrategySym, msgPrefixSym } = symbols as unknown as Record<string, symbol>;

const INFO = 30;

/** A string as pino writes it (JSON.stringify's escapes; no input here holds a lone surrogate). */
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
  if (log.levelVal > INFO) return null;
  const pino = log as unknown as PinoInternals;
  const mixin = pino[symbols.mixinSym];
  if (mixin !== undefined && mixin !== logTraceFields) return undefined;
  const more = log as unknown as Record<symbol, unknown>;
  if (more[mixinMergeStrategySym] !== undefined || more[msgPrefixSym] !== undefined) return undefined;
  if (pino[symbols.formattersSym].log !== undefined) return undefined;
  const start = `${pino[symbols.lsCacheSym][INFO]}${pino[symbols.timeSym]()}${pino[symbols.chindingsSym]}`;
  return mixin === undefined ? start : start + logTraceJson();
}

/** Ends and writes a line begun with infoLineStart and its fields: the message, pino's line end. */
export function writeInfoLine(log: Logger, line: string, msg: string): void {
  const pino = log as unknown as PinoInternals;
  pino[symbols.streamSym].write(`${line},"msg":${jsonString(msg)}${pino[symbols.endSym]}`);
}
