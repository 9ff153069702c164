import { describeError } from '@app/runtime';
import { InvalidOptionsError } from './errors';

/** One clear line for a broker that refuses this client's set-up, naming the permission it lacks. */
export function explainRefusal(error: unknown, replyMode: 'queue' | 'direct'): string | undefined {
  // The server-named queue differs at every attempt: without its name, a refusal that repeats is one cause (logged once).
  const text = describeError(error).replace(/amq\.gen-[A-Za-z0-9_-]+/g, 'amq.gen-…');
  if (!/ACCESS_REFUSED|403/.test(text)) return undefined;
  // RabbitMQ's 403 text names the resource, not the permission: the refused method tells which.
  const lacks = /QueueDeclare/.test(text)
    ? 'configure on its server-named reply queue'
    : /BasicConsume/.test(text)
      ? 'read on its server-named reply queue'
      : /exchange 'amq\.default'/.test(text)
        ? 'write on the default exchange (to publish requests)'
        : undefined;
  // direct reply-to declares nothing and its pseudo-queue needs no permission
  const needed =
    replyMode === 'direct'
      ? "write '^amq\\.default$' (configure and read may be empty)"
      : "configure '^amq\\.gen-.*$' write '^amq\\.default$' read '^amq\\.gen-.*$'";
  return `access refused (${text}): ${lacks === undefined ? '' : `the gateway's broker user lacks ${lacks}; `}its permissions should be ${needed}`;
}

export function checkInteger(queue: string, option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(queue, option, value, `an integer from ${min} to ${max}`);
  }
}

export function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
