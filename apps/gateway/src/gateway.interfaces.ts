export interface GatewaySettings {
  /** Largest n accepted; above it the answer is 400. */
  fibMaxN: number;
}
