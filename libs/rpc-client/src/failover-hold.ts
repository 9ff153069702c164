/**
 * The failover hold: failing over to another node takes a reconnect (milliseconds when a node
 * answers), so for up to `holdMs` after a lost link new calls wait for the next link instead of
 * failing 503 — bounded by their deadline, by this window, and by every node refusing once.
 */
export class FailoverHold {
  /** The window's end, epoch ms (0: not holding). */
  private until = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** 0: no hold. */
    readonly holdMs: number,
    /** The window ended with no link: the calls it kept fail. */
    private readonly expired: () => void,
  ) {}

  /** True inside the window: a new call waits for the next link. */
  get active(): boolean {
    return Date.now() < this.until;
  }

  /** Opens (or re-opens) the window from now. */
  start(): void {
    if (this.holdMs === 0) return;
    this.end();
    this.until = Date.now() + this.holdMs;
    this.timer = setTimeout(() => {
      this.end();
      this.expired();
    }, this.holdMs);
  }

  /** Closes the window: a link came up, no node answers, or the client closes. */
  end(): void {
    this.until = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
