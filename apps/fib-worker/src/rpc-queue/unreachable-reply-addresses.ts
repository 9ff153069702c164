/**
 * Reply addresses the broker was seen to refuse (publishing to one closed the
 * reply connection), so that later replies to them are skipped instead of
 * costing the reply connection again. A direct reply-to address names one
 * channel of one node's incarnation: once dead it stays dead. Entries expire
 * all the same (a node cut off by a partition may come back) and the set is
 * bounded (oldest out first), whatever a peer puts in `reply_to`.
 */
export class UnreachableReplyAddresses {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly limit = 1024,
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.until.size;
  }

  has(address: string): boolean {
    const until = this.until.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(address);
    return false;
  }

  add(address: string): void {
    this.until.delete(address);
    this.until.set(address, this.now() + this.ttlMs);
    if (this.until.size > this.limit) this.until.delete(this.until.keys().next().value as string);
  }
}
