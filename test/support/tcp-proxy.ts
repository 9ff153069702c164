import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { FrameDecoder, FrameRecord } from './amqp-frames';
import { AMQP_URL } from './broker';

/** Port of the broker the tests use (CI's RabbitMQ 4 leg points AMQP_URL at another one). */
function brokerPort(): number {
  return Number(new URL(AMQP_URL).port) || 5672;
}

export type Side = 'server' | 'client';

/** What to do to one proxied connection, and when. */
export interface ConnectionFault {
  /** Act once this many bytes from the broker have been forwarded to the app (0: before any). */
  afterServerBytes?: number;
  /** Act once this many bytes from the app have been forwarded to the broker (whichever limit comes first). */
  afterClientBytes?: number;
  /**
   * `reset`: both sockets are reset (RST), nothing more is forwarded. `freeze`: nothing more is forwarded either
   * way, both sockets stay open, until `thaw()`.
   * @default 'reset'
   */
  action?: 'reset' | 'freeze';
}

/** One proxied connection as it happened: bytes each way, the AMQP frames in them, the fault applied. */
export interface ConnectionTrace {
  id: number;
  openedAt: number;
  closedAt: number | undefined;
  /** Bytes forwarded broker → app. */
  serverBytes: number;
  /** Bytes forwarded app → broker. */
  clientBytes: number;
  /** Whole frames forwarded broker → app, with their byte offsets. */
  serverFrames: FrameRecord[];
  /** Whole frames forwarded app → broker (the first is the 8-byte protocol header). */
  clientFrames: FrameRecord[];
  fault: ConnectionFault | undefined;
  /** When the fault fired (Date.now()); undefined if it has not. */
  faultedAt: number | undefined;
}

interface Link {
  client: Socket;
  upstream: Socket;
  trace: ConnectionTrace;
  decoders: Record<Side, FrameDecoder>;
  /** Bytes read but not forwarded because the link froze mid-chunk; sent on thaw. */
  held: Record<Side, Buffer[]>;
  /** Side whose socket is waiting for 'drain' before its source may read again. */
  blocked: Record<Side, boolean>;
  frozen: boolean;
  /** Reset or closed: nothing more is forwarded. */
  done: boolean;
  /** A socket closed while frozen: its peer is closed on thaw, as a partition healing would show. */
  goneWhileFrozen: boolean;
}

/** Time between forwarding the last allowed bytes and the reset, so the app has read them when the RST comes. */
const RESET_GRACE_MS = 20;

/**
 * A TCP proxy between an app and the broker, so a test can cut the app's
 * broker connection (and refuse new ones), reset chosen connections after an
 * exact number of bytes, or freeze them, without touching the shared broker.
 */
export class TcpProxy {
  /** Every connection accepted since start, oldest first. */
  readonly traces: ConnectionTrace[] = [];
  private server: Server | undefined;
  private readonly links = new Set<Link>();
  private readonly plans: ConnectionFault[] = [];
  private listenPort = 0;
  private frozen = false;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts listening on `port` (0: any free port); by default in front of the tests' broker (AMQP_URL). */
  static async start(targetPort = brokerPort(), targetHost = '127.0.0.1', port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    proxy.listenPort = port;
    await proxy.restore();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  /** amqp:// URL through the proxy. */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Open proxied connections. */
  get connections(): number {
    return this.links.size;
  }

  /** Faults still queued for connections not yet made. */
  get plannedFaults(): number {
    return this.plans.length;
  }

  /** Drops every open connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const link of this.links) this.close(link, false);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Resets (RST) every open connection; new ones are still accepted. */
  reset(): void {
    for (const link of this.links) this.close(link, true);
  }

  /** Queues one fault per connection: the next connection gets the first, and so on; later ones pass through. */
  faultNext(...faults: ConnectionFault[]): void {
    this.plans.push(...faults);
  }

  /** The next `connections` connections are reset once the broker has sent them `bytes` bytes. */
  resetAfterServerBytes(bytes: number, connections = 1): void {
    for (let i = 0; i < connections; i++) this.faultNext({ afterServerBytes: bytes });
  }

  /** The next connection freezes once the broker has sent it `bytes` bytes (until `thaw()`). */
  freezeAfterServerBytes(bytes: number): void {
    this.faultNext({ afterServerBytes: bytes, action: 'freeze' });
  }

  /** Drops the faults not yet applied. */
  clearFaults(): void {
    this.plans.length = 0;
  }

  /** Stops forwarding both ways on every connection, open or new; sockets stay open. */
  freeze(): void {
    this.frozen = true;
    for (const link of this.links) this.freezeLink(link);
  }

  /** Forwards again what froze (and what was held back), on every connection. */
  thaw(): void {
    this.frozen = false;
    for (const link of this.links) {
      if (!link.frozen || link.done) continue;
      link.frozen = false;
      if (link.goneWhileFrozen) {
        this.close(link, true);
        continue;
      }
      for (const side of ['server', 'client'] as const) {
        const chunks = link.held[side].splice(0);
        // Through onData, so a fault still planned for this connection applies to them.
        for (const chunk of chunks) this.onData(link, side, chunk);
      }
      if (!link.frozen && !link.done) this.resumeReading(link);
    }
  }

  /** Bytes `from` has sent on open connection `id` that froze before they were forwarded (0 if none or closed). */
  heldBytes(id: number, from: Side): number {
    const link = [...this.links].find((l) => l.trace.id === id);
    if (link === undefined) return 0;
    const source = from === 'server' ? link.upstream : link.client;
    return link.held[from].reduce((sum, chunk) => sum + chunk.length, 0) + source.readableLength;
  }

  /** Times (Date.now()) at which a proxied connection was reset, faulted or closed, for "did the link drop between" checks. */
  linkEvents(): number[] {
    return this.traces.flatMap((t) => [t.faultedAt, t.closedAt].filter((at): at is number => at !== undefined));
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    const trace: ConnectionTrace = {
      id: this.traces.length + 1,
      openedAt: Date.now(),
      closedAt: undefined,
      serverBytes: 0,
      clientBytes: 0,
      serverFrames: [],
      clientFrames: [],
      fault: this.plans.shift(),
      faultedAt: undefined,
    };
    const decoders = { server: new FrameDecoder('server'), client: new FrameDecoder('client') };
    trace.serverFrames = decoders.server.frames;
    trace.clientFrames = decoders.client.frames;
    const link: Link = {
      client,
      upstream,
      trace,
      decoders,
      held: { server: [], client: [] },
      blocked: { server: false, client: false },
      frozen: false,
      done: false,
      goneWhileFrozen: false,
    };
    this.traces.push(trace);
    this.links.add(link);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', () => this.onGone(link));
      socket.on('close', () => this.onGone(link));
    }
    client.on('data', (chunk: Buffer) => this.onData(link, 'client', chunk));
    upstream.on('data', (chunk: Buffer) => this.onData(link, 'server', chunk));
    upstream.connect(this.targetPort, this.targetHost);
    if (this.frozen) this.freezeLink(link);
    // A fault "after 0 bytes" from the broker acts at once: the app's header never gets an answer.
    if (trace.fault?.afterServerBytes === 0 || trace.fault?.afterClientBytes === 0) {
      this.fire(link, 'server', Buffer.alloc(0));
    }
  }

  private onData(link: Link, from: Side, chunk: Buffer): void {
    if (link.done) return;
    if (link.frozen) {
      this.hold(link, from, chunk);
      return;
    }
    const fault = link.trace.fault;
    const limit = from === 'server' ? fault?.afterServerBytes : fault?.afterClientBytes;
    const sent = from === 'server' ? link.trace.serverBytes : link.trace.clientBytes;
    if (limit !== undefined && link.trace.faultedAt === undefined && sent + chunk.length >= limit) {
      const head = chunk.subarray(0, Math.max(0, limit - sent));
      const tail = chunk.subarray(head.length);
      this.forward(link, from, head);
      this.fire(link, from, tail);
      return;
    }
    this.forward(link, from, chunk);
  }

  private forward(link: Link, from: Side, chunk: Buffer): void {
    if (chunk.length === 0) return;
    const source = from === 'server' ? link.upstream : link.client;
    const target = from === 'server' ? link.client : link.upstream;
    if (from === 'server') link.trace.serverBytes += chunk.length;
    else link.trace.clientBytes += chunk.length;
    link.decoders[from].push(chunk);
    if (!target.write(chunk)) {
      link.blocked[from] = true;
      source.pause();
      target.once('drain', () => {
        link.blocked[from] = false;
        if (!link.frozen && !link.done) source.resume();
      });
    }
  }

  /** Applies the link's fault; `rest` is what was read from `from` past the limit. */
  private fire(link: Link, from: Side, rest: Buffer): void {
    link.trace.faultedAt = Date.now();
    if (link.trace.fault?.action === 'freeze') {
      this.freezeLink(link);
      if (rest.length > 0) this.hold(link, from, rest);
      return;
    }
    // Nothing more goes through; the bytes already written reach the app before the RST does.
    link.done = true;
    link.client.pause();
    link.upstream.pause();
    setTimeout(() => this.close(link, true), RESET_GRACE_MS);
  }

  private hold(link: Link, from: Side, chunk: Buffer): void {
    link.held[from].push(chunk);
  }

  private freezeLink(link: Link): void {
    link.frozen = true;
    link.client.pause();
    link.upstream.pause();
  }

  private resumeReading(link: Link): void {
    if (!link.blocked.client) link.client.resume();
    if (!link.blocked.server) link.upstream.resume();
  }

  private onGone(link: Link): void {
    if (link.frozen && !link.done) {
      // A frozen path shows nothing to the other side, not even a close.
      link.goneWhileFrozen = true;
      return;
    }
    this.close(link, false);
  }

  private close(link: Link, reset: boolean): void {
    link.done = true;
    if (link.trace.closedAt === undefined) link.trace.closedAt = Date.now();
    this.links.delete(link);
    for (const socket of [link.client, link.upstream]) {
      if (socket.destroyed) continue;
      if (reset && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
