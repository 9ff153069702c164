import { Channel, Message } from 'amqplib';

/** Past this many entries already acked, the delivery list is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Acks requests in delivery order with `multiple: true`, and only up to the
 * last one whose every predecessor has been replied to — so "ack after reply"
 * holds for each message while a burst of N deliveries costs one ack frame,
 * not N. Acks go out as soon as nothing earlier is in hand, or every
 * `maxBatch` messages so the broker keeps the prefetch window full. Memory is
 * bounded by the deliveries in hand (at most the prefetch), not by traffic.
 */
export class AckBatcher {
  private inOrder: number[] = [];
  private head = 0;
  private readonly finished = new Set<number>();
  private lastAcked = 0;

  constructor(
    private readonly channel: Channel,
    private readonly maxBatch: number,
  ) {}

  /** Delivery tags this batcher holds in memory, acked ones not yet compacted away included. */
  get retained(): number {
    return this.inOrder.length + this.finished.size;
  }

  /** Call when a delivery arrives, in arrival order. */
  received(message: Message): void {
    this.inOrder.push(message.fields.deliveryTag);
  }

  /**
   * Call exactly once per delivery, once its reply is published (or it needs
   * none, or none could be sent). Never throws: on a closed channel the broker
   * requeues what was not acked, and there is nothing left to do here.
   */
  done(message: Message): void {
    this.finished.add(message.fields.deliveryTag);
    let last = 0;
    while (this.head < this.inOrder.length && this.finished.delete(this.inOrder[this.head])) {
      last = this.inOrder[this.head++];
    }
    if (last === 0) return;
    const idle = this.head === this.inOrder.length;
    if (idle || last - this.lastAcked >= this.maxBatch) {
      this.lastAcked = last;
      try {
        this.channel.ack({ fields: { deliveryTag: last } } as Message, true);
      } catch {
        // Channel closed: unacked deliveries go back to the queue for another replica.
      }
    }
    if (idle) {
      this.inOrder.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER) {
      this.inOrder = this.inOrder.slice(this.head);
      this.head = 0;
    }
  }
}
