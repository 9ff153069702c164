import { Channel, ChannelModel } from 'amqplib';

/**
 * Passive checks of one queue on a channel of their own — a passive declare of
 * an absent queue closes the channel it runs on — re-opened when needed.
 */
export class QueueProbe {
  private channel: Channel | undefined;

  constructor(
    private readonly connection: ChannelModel,
    private readonly queue: string,
  ) {}

  /** The queue's consumer count; rejects with the broker's 404 when it is absent, or when the link is gone. */
  async consumerCount(): Promise<number> {
    if (this.channel === undefined) {
      const channel = await this.connection.createChannel();
      // A 404 closes the channel with an 'error' event; the check's promise carries it.
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.channel === channel) this.channel = undefined;
      });
      this.channel = channel;
    }
    return (await this.channel.checkQueue(this.queue)).consumerCount;
  }
}
