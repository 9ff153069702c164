import type { Attributes, HrTime } from '@opentelemetry/api';
import { ISerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { ProtobufBuffer } from './otlp-protobuf.writer';

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

const out = new ProtobufBuffer();

/**
 * An ExportTraceServiceRequest, encoded in one pass into a buffer kept across
 * exports: the same bytes as OpenTelemetry's `ProtobufTraceSerializer`
 * (asserted by its spec), which encodes every batch twice (once to measure
 * it) and allocates a buffer per id. Profiled at sampling 1.0 its encoding
 * was the largest single cost of tracing in both apps.
 */
export function serializeSpans(spans: ReadableSpan[]): Uint8Array {
  out.reset();
  for (const [resource, scopes] of groupByResourceAndScope(spans)) {
    out.tag(1, 2);
    const resourceSpans = out.begin();
    out.tag(1, 2);
    const resourceAt = out.begin();
    attributes(resource.attributes, 1);
    out.tag(2, 0);
    out.varint(0);
    out.end(resourceAt);
    for (const scopeSpans of scopes.values()) {
      out.tag(2, 2);
      const scopeSpansAt = out.begin();
      const scope = scopeSpans[0].instrumentationScope;
      instrumentationScope(scope);
      for (const span of scopeSpans) serializeSpan(span);
      if (scope.schemaUrl) {
        out.tag(3, 2);
        out.string(scope.schemaUrl);
      }
      out.end(scopeSpansAt);
    }
    if (resource.schemaUrl) {
      out.tag(3, 2);
      out.string(resource.schemaUrl);
    }
    out.end(resourceSpans);
  }
  return out.bytes();
}

/** The OTLP/HTTP protobuf serializer with this encoder (responses are read by OpenTelemetry's). */
export const FastProtobufTraceSerializer: ISerializer<ReadableSpan[], unknown> = {
  serializeRequest: serializeSpans,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

function groupByResourceAndScope(spans: ReadableSpan[]): Map<Resource, Map<Scope, ReadableSpan[]>> {
  const resources = new Map<Resource, Map<Scope, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = resources.get(span.resource);
    if (scopes === undefined) resources.set(span.resource, (scopes = new Map<Scope, ReadableSpan[]>()));
    const records = scopes.get(span.instrumentationScope);
    if (records === undefined) scopes.set(span.instrumentationScope, [span]);
    else records.push(span);
  }
  return resources;
}

function instrumentationScope(scope: Scope & { attributes?: Attributes; droppedAttributesCount?: number }): void {
  out.tag(1, 2);
  const at = out.begin();
  out.tag(1, 2);
  out.string(scope.name);
  if (scope.version) {
    out.tag(2, 2);
    out.string(scope.version);
  }
  if (scope.attributes) attributes(scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    out.tag(4, 0);
    out.varint(scope.droppedAttributesCount);
  }
  out.end(at);
}

/** A Span message (fields 1–16 of opentelemetry/proto/trace/v1/trace.proto), preceded by its ScopeSpans tag. */
function serializeSpan(span: ReadableSpan): void {
  out.tag(2, 2);
  const at = out.begin();
  const spanContext = span.spanContext();
  out.tag(1, 2);
  out.hexBytes(spanContext.traceId);
  out.tag(2, 2);
  out.hexBytes(spanContext.spanId);
  const traceState = spanContext.traceState?.serialize();
  if (traceState) {
    out.tag(3, 2);
    out.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    out.tag(4, 2);
    out.hexBytes(parent.spanId);
  }
  out.tag(5, 2);
  out.string(span.name);
  const kind = span.kind == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    out.tag(6, 0);
    out.varint(kind);
  }
  out.tag(7, 1);
  hrTime(span.startTime);
  out.tag(8, 1);
  hrTime(span.endTime);
  if (span.attributes) attributes(span.attributes, 9);
  out.tag(10, 0);
  out.varint(span.droppedAttributesCount);
  for (const event of span.events) spanEvent(event);
  out.tag(12, 0);
  out.varint(span.droppedEventsCount);
  for (const link of span.links) {
    out.tag(13, 2);
    const linkAt = out.begin();
    out.tag(1, 2);
    out.hexBytes(link.context.traceId);
    out.tag(2, 2);
    out.hexBytes(link.context.spanId);
    const linkState = link.context.traceState?.serialize();
    if (linkState) {
      out.tag(3, 2);
      out.string(linkState);
    }
    if (link.attributes) attributes(link.attributes, 4);
    out.tag(5, 0);
    out.varint(link.droppedAttributesCount || 0);
    out.tag(6, 5);
    out.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
    out.end(linkAt);
  }
  out.tag(14, 0);
  out.varint(span.droppedLinksCount);
  out.tag(15, 2);
  const statusAt = out.begin();
  if (span.status.message) {
    out.tag(2, 2);
    out.string(span.status.message);
  }
  out.tag(3, 0);
  out.varint(span.status.code);
  out.end(statusAt);
  out.tag(16, 5);
  out.fixed32(spanFlags(spanContext.traceFlags, parent?.isRemote));
  out.end(at);
}

function spanEvent(event: TimedEvent): void {
  out.tag(11, 2);
  const at = out.begin();
  out.tag(1, 1);
  hrTime(event.time);
  out.tag(2, 2);
  out.string(event.name);
  if (event.attributes) attributes(event.attributes, 3);
  out.tag(4, 0);
  out.varint(event.droppedAttributesCount || 0);
  out.end(at);
}

/** W3C trace flags, and whether the context came from another process (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE/IS_REMOTE). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote ? 512 : 0);
}

/** [seconds, nanoseconds] as a fixed64 of nanoseconds, exactly as OpenTelemetry computes it (no BigInt). */
function hrTime([seconds, nanos]: HrTime): void {
  const fromLow = (seconds & 65535) * 1e9;
  const fromHigh = ((seconds / 65536) >>> 0) * 1e9;
  const low = (fromLow >>> 0) + (((fromHigh & 65535) * 65536) >>> 0) + nanos;
  const high = Math.floor(fromLow / 4294967296) + ((fromHigh / 65536) >>> 0) + Math.floor(low / 4294967296);
  out.fixed64(low >>> 0, high >>> 0);
}

/** Repeated KeyValue in field `field`. */
function attributes(values: Attributes, field: number): void {
  for (const key in values) {
    if (!Object.prototype.hasOwnProperty.call(values, key)) continue;
    out.tag(field, 2);
    const at = out.begin();
    keyValue(key, values[key]);
    out.end(at);
  }
}

function keyValue(key: string, value: unknown): void {
  out.tag(1, 2);
  out.string(key);
  out.tag(2, 2);
  const at = out.begin();
  anyValue(value);
  out.end(at);
}

/** An AnyValue from an attribute value (or an item of an array or map value). */
function anyValue(value: unknown): void {
  switch (typeof value) {
    case 'string':
      out.tag(1, 2);
      out.string(value);
      return;
    case 'boolean':
      out.tag(2, 0);
      out.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        out.tag(3, 0);
        out.varint(value);
      } else {
        out.tag(4, 1);
        out.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    out.tag(7, 2);
    out.bytesField(value);
  } else if (Array.isArray(value)) {
    out.tag(5, 2);
    const at = out.begin();
    for (const item of value) {
      out.tag(1, 2);
      const itemAt = out.begin();
      anyValue(item);
      out.end(itemAt);
    }
    out.end(at);
  } else if (typeof value === 'object' && value !== null) {
    out.tag(6, 2);
    const at = out.begin();
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      out.tag(1, 2);
      const kvAt = out.begin();
      keyValue(key, (value as Record<string, unknown>)[key]);
      out.end(kvAt);
    }
    out.end(at);
  }
}
