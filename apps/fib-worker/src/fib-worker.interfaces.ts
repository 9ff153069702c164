export interface FibWorkerSettings {
  /** Largest n answered; above it the reply is OUT_OF_RANGE. */
  fibMaxN: number;
}
