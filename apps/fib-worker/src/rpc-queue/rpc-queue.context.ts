import { BaseRpcContext } from '@nestjs/microservices';
import { Channel, ConsumeMessage } from 'amqplib';

/** What a handler may inject with `@Ctx()`: the AMQP message and its channel. */
export class RpcQueueContext extends BaseRpcContext<[ConsumeMessage, Channel]> {
  getMessage(): ConsumeMessage {
    return this.args[0];
  }

  getChannel(): Channel {
    return this.args[1];
  }
}
