import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

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
    this.#forward(client, upstream);
    this.#forward(upstream, client);
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
  #forward(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    let queued = 0;
    from.on('data', (chunk: Buffer) => {
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
