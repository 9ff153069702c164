import { askWithin, QueueProbe } from '@app/runtime';

/** A zero consumer count after a non-zero one is checked again this often until it is believed. */
const ZERO_RECHECK_MS = 300;
/** How long zeros must last before they are believed: a quorum leader election (~0.3–1 s) reads as 0. */
const ZERO_BELIEVED_AFTER_MS = 1000;

export interface WorkerPresenceEvents {
  /** A count came back: the link answers. */
  heard(): void;
  /** A zero count confirmed by a second one: nobody is left to answer the calls pending. */
  noneLeft(): void;
  /** A check got no answer in time: the link is silent. */
  silent(timeoutMs: number): void;
  /** While the broker blocks the connection no answer is expected, and the wait goes on. */
  isBlocked(): boolean;
}

/**
 * One link's view of the request queue's consumers: a periodic passive declare with a bounded wait
 * (the client's own round trip, which also tells a silent link), and the re-check a call asks for
 * before it is refused for a count of zero — one at a time, shared by the calls that arrive meanwhile.
 */
export class WorkerPresence {
  /** Consumers at the last answer. */
  count: number;
  private timer: NodeJS.Timeout | undefined;
  /** When the current run of zero counts began (after a non-zero one), epoch ms. */
  private zeroSince: number | undefined;
  private readonly believeZeroAfterMs: number;
  private asking: Promise<number | 'silent'> | undefined;
  private disposed = false;

  constructor(
    private readonly probe: QueueProbe,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    initial: number,
    private readonly events: WorkerPresenceEvents,
  ) {
    this.count = initial;
    // never longer than about two check intervals, so a worker that went away is noticed within ~2 s
    this.believeZeroAfterMs = Math.min(ZERO_BELIEVED_AFTER_MS, Math.max(ZERO_RECHECK_MS, 2 * intervalMs));
  }

  /** Starts the periodic checks from the set-up's count. */
  start(previous: number): void {
    this.onCount(this.count, previous);
  }

  /** A fresh count (shared with a check already on its way); 'silent' if the link did not answer. */
  recheck(): Promise<number | 'silent'> {
    this.asking ??= this.ask().finally(() => (this.asking = undefined));
    return this.asking;
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Consumer count, 0 when the queue is absent (404) or the link is going down (the link handles that). */
  private async ask(): Promise<number | 'silent'> {
    const count = await askWithin(
      this.probe.consumerCount().catch(() => 0),
      this.timeoutMs,
      () => this.events.isBlocked(),
    );
    if (this.disposed) return count;
    if (count === 'silent') {
      this.events.silent(this.timeoutMs);
    } else {
      // A worker seen is believed at once; a zero only through onCount's second look.
      if (count > 0) this.count = count;
      this.events.heard();
    }
    return count;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.disposed) return;
    this.timer = setTimeout(() => void this.periodic(), delayMs);
  }

  private async periodic(): Promise<void> {
    const previous = this.count;
    const count = await this.recheck();
    if (this.disposed || count === 'silent') return;
    this.onCount(count, previous);
  }

  /**
   * RabbitMQ reports a quorum queue's consumers as 0 when its leader does not answer within 250 ms
   * (an election after a node loss): zeros after a non-zero count are checked again every 300 ms and
   * believed only once they have lasted believeZeroAfterMs. Then nobody is left to answer.
   */
  private onCount(count: number, previous: number): void {
    if (count === 0 && previous > 0) {
      const now = Date.now();
      this.zeroSince ??= now;
      if (now - this.zeroSince < this.believeZeroAfterMs) {
        this.count = previous;
        this.schedule(ZERO_RECHECK_MS);
        return;
      }
    }
    this.zeroSince = undefined;
    this.count = count;
    if (count === 0) this.events.noneLeft();
    this.schedule(this.intervalMs);
  }
}
