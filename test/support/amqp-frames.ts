/**
 * Just enough of AMQP 0-9-1 framing to name the frames in a byte stream, so a
 * proxy trace can say at which byte offset each method arrived.
 */

const METHODS: Record<number, Record<number, string>> = {
  10: {
    10: 'connection.start',
    11: 'connection.start-ok',
    20: 'connection.secure',
    21: 'connection.secure-ok',
    30: 'connection.tune',
    31: 'connection.tune-ok',
    40: 'connection.open',
    41: 'connection.open-ok',
    50: 'connection.close',
    51: 'connection.close-ok',
    60: 'connection.blocked',
    61: 'connection.unblocked',
  },
  20: {
    10: 'channel.open',
    11: 'channel.open-ok',
    20: 'channel.flow',
    21: 'channel.flow-ok',
    40: 'channel.close',
    41: 'channel.close-ok',
  },
  50: {
    10: 'queue.declare',
    11: 'queue.declare-ok',
    20: 'queue.bind',
    21: 'queue.bind-ok',
    30: 'queue.purge',
    31: 'queue.purge-ok',
    40: 'queue.delete',
    41: 'queue.delete-ok',
  },
  60: {
    10: 'basic.qos',
    11: 'basic.qos-ok',
    20: 'basic.consume',
    21: 'basic.consume-ok',
    30: 'basic.cancel',
    31: 'basic.cancel-ok',
    40: 'basic.publish',
    50: 'basic.return',
    60: 'basic.deliver',
    80: 'basic.ack',
    90: 'basic.reject',
    120: 'basic.nack',
  },
  85: { 10: 'confirm.select', 11: 'confirm.select-ok' },
};

const PROTOCOL_HEADER_SIZE = 8; // "AMQP" 0 0 9 1, sent by the client only

/** One frame seen on the wire: its name and where it starts and ends in its direction's byte stream. */
export interface FrameRecord {
  name: string;
  channel: number;
  /** Offset of its first byte. */
  start: number;
  /** Offset just past its last byte: "the peer has received this whole frame" once this many bytes went through. */
  end: number;
  /** queue.declare / queue.declare-ok: the queue's name. */
  queue?: string;
}

/** Incremental decoder for one direction of one connection. */
export class FrameDecoder {
  readonly frames: FrameRecord[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0; // stream offset of buffer[0]
  private headerPending: boolean;

  constructor(direction: 'client' | 'server') {
    this.headerPending = direction === 'client';
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.headerPending) {
        if (this.buffer.length < PROTOCOL_HEADER_SIZE) return;
        this.take('protocol-header', 0, PROTOCOL_HEADER_SIZE);
        this.headerPending = false;
        continue;
      }
      if (this.buffer.length < 7) return;
      const size = this.buffer.readUInt32BE(3) + 8;
      if (this.buffer.length < size) return;
      const type = this.buffer[0];
      const channel = this.buffer.readUInt16BE(1);
      this.take(frameName(type, this.buffer), channel, size);
    }
  }

  private take(name: string, channel: number, size: number): void {
    const record: FrameRecord = { name, channel, start: this.offset, end: this.offset + size };
    if (name === 'queue.declare-ok') record.queue = shortString(this.buffer, 11);
    if (name === 'queue.declare') record.queue = shortString(this.buffer, 13); // after the reserved short
    this.frames.push(record);
    this.offset += size;
    this.buffer = this.buffer.subarray(size);
  }
}

function shortString(frame: Buffer, at: number): string {
  return frame.toString('utf8', at + 1, at + 1 + frame[at]);
}

function frameName(type: number, frame: Buffer): string {
  switch (type) {
    case 1: {
      const classId = frame.readUInt16BE(7);
      const methodId = frame.readUInt16BE(9);
      return METHODS[classId]?.[methodId] ?? `method ${classId}.${methodId}`;
    }
    case 2:
      return 'content-header';
    case 3:
      return 'content-body';
    case 8:
      return 'heartbeat';
    default:
      return `frame type ${type}`;
  }
}
