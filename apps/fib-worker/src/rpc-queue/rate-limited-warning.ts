/**
 * One warning line per `intervalMs` at most, for a cause that a peer can
 * repeat at will (a request per second would otherwise be a line per second);
 * the next line says how many were left out.
 */
export class RateLimitedWarning {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly warn: (line: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  say(line: string): void {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const left = this.suppressed;
    this.lastAt = now;
    this.suppressed = 0;
    this.warn(left > 0 ? `${line} (and ${left} more like it since the last such line)` : line);
  }
}
