import { ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/**
 * Wraps the real exporter to say, once, that exports fail (receiver down,
 * refusing, hanging) and once that they work again: a line per failed batch
 * would flood the log for as long as the receiver is away. Calls never wait
 * for an export; the failed batch's spans are dropped.
 */
export class ReportingExporter implements SpanExporter {
  private failing = false;
  /** Errors already reported here, so the global error handler does not report them again. */
  readonly reported = new WeakSet<Error>();

  constructor(
    private readonly inner: SpanExporter,
    private readonly target: string,
    private readonly log: (line: string) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        if (this.failing) this.log(`span export to ${this.target} works again`);
        this.failing = false;
      } else {
        if (result.error !== undefined) this.reported.add(result.error);
        if (!this.failing) {
          const why = result.error?.message ?? 'failed';
          this.log(
            `span export to ${this.target} failing (${why}): spans are dropped until it works again (calls are not affected; logged once)`,
          );
        }
        this.failing = true;
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
