import { DiagLogger } from '@opentelemetry/api';

/** The same kind of line (digits aside) is logged again only after this long. */
const QUIET_MS = 10 * 60_000;

/**
 * OpenTelemetry's own warnings and errors (diag, the global error handler),
 * each kind at most once per QUIET_MS: the SDK warns per dropped batch, which
 * would be a line every few seconds while a receiver is down.
 */
export class OncePerKindLog implements DiagLogger {
  private readonly lastAt = new Map<string, number>();

  constructor(private readonly log: (line: string) => void) {}

  line(text: string): void {
    const kind = text.replace(/\d+/g, 'N').slice(0, 120);
    const now = Date.now();
    const last = this.lastAt.get(kind);
    if (last !== undefined && now - last < QUIET_MS) return;
    this.lastAt.set(kind, now);
    this.log(text);
  }

  error = (message: string, ...args: unknown[]): void => this.line(format(message, args));
  warn = (message: string, ...args: unknown[]): void => this.line(format(message, args));
  info = (): void => undefined;
  debug = (): void => undefined;
  verbose = (): void => undefined;
}

function format(message: string, args: unknown[]): string {
  const rest = args.map((arg) =>
    arg instanceof Error ? arg.message : typeof arg === 'string' ? arg : JSON.stringify(arg),
  );
  return [message, ...rest].join(' ');
}
