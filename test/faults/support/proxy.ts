import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** PostgreSQL's ReadyForQuery, transaction status idle: what the server sends after a commit. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

/** One proxied connection: the client's socket and ours to the service. */
interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy of the test's own between a client and a service on 127.0.0.1, to fail the network
 * rather than the service: `drop()` resets every connection and refuses new ones (a partition the
 * client notices), `delay(ms)` adds latency, `pass()` heals. The mode applies at once, also to
 * open connections.
 */
export class TcpProxy {
  #dropping = false;
  #delayMs = 0;
  #accepted = 0;
  #dropped = 0;
  readonly #pairs = new Set<Pair>();
  #closed: Promise<void> | undefined;

  readonly port: number;
  readonly targetPort: number;
  private readonly server: Server;
  private constructor(
    port: number,
    targetPort: number,
    server: Server) {
    this.port = port;
    this.targetPort = targetPort;
    this.server = server;
    server.on('connection', (client) => this.#accept(client));
    server.on('error', () => {});
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    // Half-open: a client's end is forwarded after the data before it, not taken as a close.
    const server = createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new TcpProxy((server.address() as { port: number }).port, targetPort, server);
  }

  /** Forwards everything as it comes. */
  pass(): void {
    this.#dropping = false;
    this.#delayMs = 0;
  }

  /** Resets every open connection and every new one until `pass()` or `delay()`. */
  drop(): void {
    this.#dropping = true;
    for (const pair of this.#pairs) {
      this.#dropped++;
      this.#destroy(pair);
    }
  }

  /** Forwards every chunk, in both directions, `ms` after it arrived; order is kept. */
  delay(ms: number): void {
    this.#dropping = false;
    this.#delayMs = ms;
  }

  /**
   * PostgreSQL only: the next connection that sends `marker` (e.g. a value bound into a write) is
   * reset when the server answers that its transaction ended (ReadyForQuery, idle), before that
   * answer is forwarded: the write committed and the client sees a connection cut. Resolves once cut.
   */
  cutAfterCommit(marker: string): Promise<void> {
    return new Promise((resolve) => {
      this.#cutAfterCommit = { marker: Buffer.from(marker), cut: resolve };
    });
  }
  #cutAfterCommit: { marker: Buffer; cut: () => void } | undefined;

  /** Connections forwarded, and connections reset or refused by `drop()`. */
  stats(): { accepted: number; dropped: number } {
    return { accepted: this.#accepted, dropped: this.#dropped };
  }

  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const pair of this.#pairs) this.#destroy(pair);
      await closed;
    })();
    return this.#closed;
  }

  #accept(client: Socket): void {
    client.on('error', () => {});
    if (this.#dropping || this.#closed) {
      this.#dropped++;
      reset(client);
      return;
    }
    this.#accepted++;
    const upstream = connect({ port: this.targetPort, host: '127.0.0.1', allowHalfOpen: true });
    upstream.on('error', () => {});
    const pair = { client, upstream };
    this.#pairs.add(pair);
    let marked = false;
    this.#forward(client, upstream, (chunk) => {
      if (this.#cutAfterCommit && chunk.includes(this.#cutAfterCommit.marker)) marked = true;
      return true;
    });
    this.#forward(upstream, client, (chunk) => {
      const cut = this.#cutAfterCommit;
      if (!marked || !cut || !chunk.includes(READY_IDLE)) return true;
      this.#cutAfterCommit = undefined;
      this.#destroy(pair);
      cut.cut();
      return false;
    });
    // An orderly end travels through #forward; a side that fails (or a refused upstream) resets
    // the other, as the failure of a direct connection would.
    let open = 2;
    const closed = (hadError: boolean) => {
      if (hadError) this.#destroy(pair);
      else if (--open === 0) this.#pairs.delete(pair);
    };
    client.once('close', closed);
    upstream.once('close', closed);
  }

  /**
   * Copies `from` to `to`. A chunk is due `delayMs` after it arrived; chunks wait in one promise
   * chain per direction, so a later, shorter delay never overtakes an earlier one.
   */
  #forward(from: Socket, to: Socket, pass: (chunk: Buffer) => boolean = () => true): void {
    let chain = Promise.resolve();
    let queued = 0;
    from.on('data', (chunk: Buffer) => {
      if (!pass(chunk)) return;
      const delayMs = this.#delayMs;
      if (delayMs === 0 && queued === 0) {
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      const due = Date.now() + delayMs;
      queued++;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        queued--;
        if (!to.destroyed) to.write(chunk);
      });
    });
    // A half-close is forwarded after the data before it.
    from.once('end', () => void chain.then(() => to.end()));
  }

  #destroy(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    reset(pair.client);
    reset(pair.upstream);
  }
}

/** Closes with a TCP RST, so the peer sees ECONNRESET rather than an orderly end. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
