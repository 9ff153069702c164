/**
 * What the worker makes of a request's deadline (`x-deadline`, the caller's
 * epoch ms) and budget (`expiration`, ms):
 * - `live`: no usable deadline (absent, junk: tutorial clients send none), or not yet reached;
 * - `expired`: past it by no more than its budget — its caller has given up: ack it uncomputed;
 * - `skewed`: past it by more than its whole budget. The broker drops a request
 *   still queued after `expiration`, so only clocks that disagree (the worker's
 *   running ahead of the caller's) explain it: compute it anyway.
 * A deadline without an `expiration` is trusted as it is: nothing bounds the skew.
 */
export type DeadlineVerdict = 'live' | 'expired' | 'skewed';

export function judgeDeadline(deadline: unknown, expiration: unknown, now: number): DeadlineVerdict {
  const at = typeof deadline === 'number' ? deadline : typeof deadline === 'bigint' ? Number(deadline) : Number.NaN;
  if (!Number.isFinite(at) || at >= now) return 'live';
  const budget = budgetMs(expiration);
  return budget !== undefined && now - at > budget ? 'skewed' : 'expired';
}

/** AMQP's `expiration` is a string of decimal milliseconds; amqplib hands it over as sent. */
function budgetMs(expiration: unknown): number | undefined {
  const text = typeof expiration === 'number' ? String(expiration) : expiration;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
