import { Channel, Message } from 'amqplib';

/**
 * Acks requests in delivery order with `multiple: true`, and only up to the
 * last one whose every predecessor has been replied to — so "ack after reply"
 * holds for each message while a burst of N deliveries costs one ack frame,
 * not N. Acks go out as soon as nothing earlier is in hand, or every
 * `maxBatch` messages so the broker keeps the prefetch window full.
 */
export class AckBatcher {
  private readonly inOrder: number[] = [];
  private head = 0;
  private readonly finished = new Set<number>();
  private lastAcked = 0;

  constructor(
    private readonly channel: Channel,
    private readonly maxBatch: number,
  ) {}

  /** Call when a delivery arrives, in arrival order. */
  received(message: Message): void {
    this.inOrder.push(message.fields.deliveryTag);
  }

  /** Call once the delivery's reply is published (or it needs none). */
  done(message: Message): void {
    this.finished.add(message.fields.deliveryTag);
    let last = 0;
    while (this.head < this.inOrder.length && this.finished.delete(this.inOrder[this.head])) {
      last = this.inOrder[this.head++];
    }
    if (last === 0) return;
    const idle = this.head === this.inOrder.length;
    if (idle || last - this.lastAcked >= this.maxBatch) {
      this.channel.ack({ fields: { deliveryTag: last } } as Message, true);
      this.lastAcked = last;
    }
    if (idle) {
      this.inOrder.length = 0;
      this.head = 0;
    }
  }
}
