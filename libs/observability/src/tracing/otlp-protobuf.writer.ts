/**
 * The protobuf primitives of the OTLP span encoder (otlp-protobuf.serializer):
 * one buffer kept across exports and grown when needed, so a batch is
 * written in one pass (OpenTelemetry's encoder measures every batch in a
 * first pass, then writes it). Lengths of nested messages are written the way
 * OpenTelemetry's `ProtobufWriter` writes them (a byte reserved, the content
 * moved when the length needs more): the bytes are the same.
 */
/** What a buffer starts with: a full batch of 512 of our spans (≈ 400 bytes each). */
const INITIAL_BYTES = 256 * 1024;
/** A buffer grown beyond this (a batch with huge attribute values) is let go at the next reset. */
const KEPT_BYTES = 1024 * 1024;

export class ProtobufBuffer {
  private buffer = new Uint8Array(INITIAL_BYTES);
  private view = new DataView(this.buffer.buffer);
  private readonly encoder = new TextEncoder();
  pos = 0;

  /** The bytes written since `reset`, copied out (the buffer is reused by the next batch). */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  /** What the buffer holds now (its size, not what is written). */
  get capacity(): number {
    return this.buffer.length;
  }

  reset(): void {
    this.pos = 0;
    // One odd batch (a value of megabytes) must not keep its buffer for the life of the process.
    if (this.buffer.length > KEPT_BYTES) {
      this.buffer = new Uint8Array(INITIAL_BYTES);
      this.view = new DataView(this.buffer.buffer);
    }
  }

  ensure(size: number): void {
    if (this.pos + size <= this.buffer.length) return;
    let length = this.buffer.length * 2;
    while (length < this.pos + size) length *= 2;
    const grown = new Uint8Array(length);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A field key (field number and wire type). */
  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** Starts a length-delimited field's content; `end` with what this returns. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(at: number): void {
    const length = this.pos - at - 1;
    let size = 1;
    for (let v = length >>> 7; v > 0; v >>>= 7) size++;
    if (size > 1) {
      this.ensure(size - 1);
      this.buffer.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    let v = length;
    while (v > 127) {
      this.buffer[at++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buffer[at] = v;
  }

  /** A varint as OpenTelemetry writes one: up to 64 bits, a negative integer in two's complement. */
  varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        buffer[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buffer[this.pos++] = v;
      return;
    }
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 4294967296) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      buffer[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buffer[this.pos++] = low & 127;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A string, length-prefixed, as UTF-8 (ASCII copied directly). */
  string(text: string): void {
    const length = text.length;
    this.ensure(length + 5);
    const start = this.pos;
    if (length < 128) {
      const buffer = this.buffer;
      let i = 0;
      let pos = start + 1;
      for (; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 128) break;
        buffer[pos++] = code;
      }
      if (i === length) {
        buffer[start] = length;
        this.pos = pos;
        return;
      }
    }
    this.pos = start + 1;
    this.ensure(length * 3);
    this.pos += this.encoder.encodeInto(text, this.buffer.subarray(this.pos)).written;
    this.end(start);
  }

  /** An id given in hex (trace and span ids), length-prefixed, as its bytes. */
  hexBytes(hex: string): void {
    const size = hex.length >>> 1;
    this.ensure(size + 1);
    const buffer = this.buffer;
    buffer[this.pos++] = size;
    for (let i = 0; i < hex.length; i += 2) {
      buffer[this.pos++] = (hexValue(hex.charCodeAt(i)) << 4) | hexValue(hex.charCodeAt(i + 1));
    }
  }

  bytesField(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

/** As OpenTelemetry's hexToBinary reads a hex digit (either case). */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55;
}
