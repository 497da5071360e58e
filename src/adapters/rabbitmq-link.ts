import { connect, type Channel, type ChannelModel, type ConfirmChannel, type Message, type RecoveringChannelModel } from 'amqplib';
import type { Socket } from 'node:net';
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueUnavailableError } from './errors.ts';

/** One AMQP connection and its channels; replaced whole after a reconnect. */
export interface Link {
  model: ChannelModel;
  /** The confirm channel every enqueue publishes on. */
  publisher: ConfirmChannel;
  /** For checkQueue: a missing queue closes the channel it was checked on, so not the publisher. */
  inspector?: Promise<Channel> | undefined;
  /** Message ids the broker returned as unroutable (queue deleted), until their confirm arrives. */
  returned: Set<string>;
  open: boolean;
  /** Why the broker blocks publishing on this connection (a memory or disk alarm), if it does. */
  blocked?: string | undefined;
}

export interface RabbitmqLinkOptions {
  /** amqp:// or amqps:// URL. Never logged nor shown: it may hold a password. */
  url: string;
  heartbeatSeconds: number;
  queueName: string;
  maxPriority: number;
  log: Logger;
  reconnectDelayMs?: number | undefined;
  reconnectMaxDelayMs?: number | undefined;
  /** Runs on each new connection before it becomes current (the consumer starts there); a rejection abandons it. */
  prepare(link: Link): Promise<void>;
}

/** Socket idle limit while connecting and during the AMQP handshake (a peer that accepts and says nothing). */
const CONNECT_TIMEOUT_MS = 3_000;
/** Declaring the queue and opening the channels of a new connection. */
const SETUP_TIMEOUT_MS = 5_000;
/** A graceful AMQP close waits for the broker's answer; past this the socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 2_000;

/**
 * The adapter's connection to RabbitMQ, kept up (amqplib's opt-in recovery runs the loop, #setup
 * builds each link on it):
 *
 *   idle ──first use──▶ connecting ──#setup done──▶ connected
 *                         ▲     │ failed               │ socket lost, heartbeats missed,
 *                         │     ▼                      │ or a channel closed by the broker
 *                         └── waiting (backoff 250 ms doubling to 5 s) ◀──┘
 *   any ──close()──▶ closed
 *
 * Only the very first attempt is waited for; while reconnecting, ready() fails at once with
 * QueueUnavailableError: the caller keeps the job in its outbox and tries again.
 */
export class RabbitmqLink {
  /** host:port, for details and logs: never the URL. */
  readonly where: string;
  readonly #opts: RabbitmqLinkOptions;
  readonly #log: Logger;
  /** The URL with our heartbeat unless it sets one. */
  readonly #url: string;

  #connection: Promise<RecoveringChannelModel> | undefined;
  #link: Link | undefined;
  /** Callers waiting for the very first connection. */
  #waiters: { resolve: (link: Link) => void; reject: (error: Error) => void }[] = [];
  /** Why the last attempt failed or the connection was lost; cleared once connected. */
  #down: Error | undefined;
  /** The current outage was logged at warn: the retries log at debug. */
  #warned = false;
  #closed = false;

  constructor(opts: RabbitmqLinkOptions) {
    const { url, where } = amqpUrl(opts.url, opts.heartbeatSeconds);
    this.#opts = opts;
    this.#url = url;
    this.where = where;
    this.#log = opts.log;
  }

  /** The current link; waits only for the very first connection, else fails at once while reconnecting. */
  ready(): Promise<Link> {
    if (this.#closed) return Promise.reject(new QueueUnavailableError('the RabbitMQ adapter is closed'));
    this.#start();
    if (this.#link) return Promise.resolve(this.#link);
    if (this.#down) return Promise.reject(this.#unreachable());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The link in use now, if connected. */
  get current(): Link | undefined {
    return this.#link;
  }

  async checkQueue(link: Link) {
    link.inspector ??= this.#openInspector(link);
    const channel = await link.inspector;
    try {
      return await channel.checkQueue(this.#opts.queueName);
    } catch (error) {
      throw new Error(`RabbitMQ at ${this.where}: cannot check queue ${this.#opts.queueName}: ${errorText(error)}`, { cause: error });
    }
  }

  /** A channel the broker closed on a live connection: rebuild the whole link rather than patch it. */
  channelClosed(link: Link, which: string): void {
    // Deferred: when the connection itself closes, its channels close first, before its 'close'.
    setImmediate(() => this.rebuild(link, `RabbitMQ closed the ${which} channel; reconnecting`));
  }

  /** Closes a live link on purpose; amqplib reconnects and #setup builds it anew. Logged once, as the loss. */
  rebuild(link: Link, reason: string, error?: unknown): void {
    if (!link.open || this.#closed || this.#link !== link) return;
    if (!this.#warned) this.#log.warn({ err: error }, reason);
    this.#warned = true;
    link.model.close().catch(() => {});
  }

  /** Closes the connection and stops reconnecting; callers still waiting are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new QueueUnavailableError('the RabbitMQ adapter is closed');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closed);
    const link = this.#link;
    this.#link = undefined;
    const connection = await this.#connection;
    if (!connection) return;
    // Also stops the reconnect loop and any attempt under way.
    await withTimeout(connection.close(), CLOSE_TIMEOUT_MS, 'RabbitMQ close').catch(() => {
      if (link) destroySocket(link.model);
    });
  }

  #unreachable(): QueueUnavailableError {
    return new QueueUnavailableError(`RabbitMQ at ${this.where} is not connected: ${errorText(this.#down)}`);
  }

  /** Starts the connection and its reconnect loop on first use. */
  #start(): void {
    if (this.#connection || this.#closed) return;
    this.#connection = connect(this.#url, {
      timeout: CONNECT_TIMEOUT_MS,
      noDelay: true, // confirms are small frames: do not let Nagle hold them
      keepAlive: true,
      clientProperties: { connection_name: `jobgraph ${this.#opts.queueName}` },
      recovery: {
        waitForConnect: false,
        initialDelay: this.#opts.reconnectDelayMs ?? 250,
        maxDelay: this.#opts.reconnectMaxDelayMs ?? 5_000,
        factor: 2,
        jitter: 0.2, // workers reconnecting after a broker restart do not all come at once
        // One parameter: amqplib takes a two-parameter setup for its callback style.
        setup: (model: ChannelModel) => this.#setupLink(model),
      },
    }).then((connection) => {
      // Attached before the first attempt, which amqplib defers to a later tick.
      connection.on('connect-failed', (error: Error) => this.#attemptFailed(error));
      connection.on('reconnect-scheduled', ({ attempt, delay }: { attempt: number; delay: number }) =>
        this.#log.debug({ attempt, delayMs: delay }, 'RabbitMQ reconnect scheduled'),
      );
      connection.on('reconnect-failed', (error: Error) => this.#log.error({ err: error }, 'RabbitMQ reconnecting gave up'));
      // Unheard, an 'error' event would crash the process. Logged where it happens (#setup).
      connection.on('error', () => {});
      return connection;
    });
  }

  async #setupLink(model: ChannelModel): Promise<void> {
    const attempt = { abandoned: false };
    try {
      await withTimeout(this.#setup(model, attempt), SETUP_TIMEOUT_MS, 'RabbitMQ connection setup');
    } catch (error) {
      attempt.abandoned = true; // amqplib closes this connection and tries again
      throw error;
    }
  }

  /** Declares the queue and opens the channels of a new connection, then makes it the current link. */
  async #setup(model: ChannelModel, attempt: { abandoned: boolean }): Promise<void> {
    /** The link once built; `lost` once this connection closed, even before that. */
    const state: { link?: Link; lost: boolean } = { lost: false };
    // Before amqplib binds its own: an unheard 'error' would crash the process.
    model.on('error', (error: Error) => this.#log.debug({ err: error }, 'RabbitMQ connection error'));
    model.on('close', (error?: Error) => {
      state.lost = true;
      if (state.link) this.#linkLost(state.link, error);
    });
    model.on('blocked', (reason: string) => {
      if (state.link) state.link.blocked = reason;
      this.#log.warn({ reason }, 'RabbitMQ blocks publishing (resource alarm)');
    });
    model.on('unblocked', () => {
      if (state.link) state.link.blocked = undefined;
      this.#log.info('RabbitMQ accepts publishing again');
    });

    const publisher = await model.createConfirmChannel();
    publisher.on('error', (error: Error) => this.#log.debug({ err: error }, 'RabbitMQ publisher channel error'));
    await this.#declare(publisher);
    const link: Link = { model, publisher, returned: new Set(), open: !state.lost };
    state.link = link;
    publisher.on('return', (message: Message) => {
      const id: unknown = message.properties.messageId;
      if (typeof id === 'string') link.returned.add(id);
      // The queue was deleted under us: declare it again so the next enqueue lands.
      this.#declare(publisher).catch((error: unknown) => this.#log.debug({ err: error }, 'could not declare the queue again'));
    });
    publisher.on('close', () => this.channelClosed(link, 'publisher'));

    await this.#opts.prepare(link);
    if (state.lost || attempt.abandoned || this.#closed) throw new Error('the connection closed during setup');
    this.#linkUp(link);
  }

  #declare(channel: Channel) {
    return channel.assertQueue(this.#opts.queueName, { durable: true, maxPriority: this.#opts.maxPriority });
  }

  #linkUp(link: Link): void {
    this.#link = link;
    if (this.#down) this.#log.info('RabbitMQ connection restored');
    else this.#log.debug('RabbitMQ connected');
    this.#down = undefined;
    this.#warned = false;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(link);
  }

  #linkLost(link: Link, error: Error | undefined): void {
    link.open = false;
    if (this.#link !== link) return;
    this.#link = undefined;
    if (this.#closed) return;
    this.#down = error ?? new Error('connection closed');
    if (this.#warned) return;
    this.#warned = true;
    this.#log.warn({ err: error }, 'RabbitMQ connection lost; reconnecting');
  }

  #attemptFailed(error: Error): void {
    if (this.#closed) return;
    this.#down = error;
    const unreachable = this.#unreachable();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(unreachable);
    if (this.#warned) {
      this.#log.debug({ err: error }, 'RabbitMQ connection attempt failed again');
      return;
    }
    this.#warned = true;
    this.#log.warn({ err: error }, 'RabbitMQ connection attempt failed; retrying');
  }

  #openInspector(link: Link): Promise<Channel> {
    const forget = () => {
      if (link.inspector === opening) link.inspector = undefined;
    };
    const opening = link.model.createChannel().then((channel) => {
      channel.on('error', (error: Error) => this.#log.debug({ err: error }, 'RabbitMQ inspection channel error'));
      channel.on('close', forget);
      return channel;
    });
    opening.catch(forget);
    return opening;
  }
}

/** The URL amqplib gets (with a heartbeat unless it sets one) and host:port for people. */
function amqpUrl(url: string, heartbeatSeconds: number): { url: string; where: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('the AMQP URL is not a valid URL'); // not echoed: it may hold a password
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new Error(`the AMQP URL must start with amqp:// or amqps://, not ${parsed.protocol}//`);
  }
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(heartbeatSeconds));
  const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
  return { url: parsed.toString(), where: `${parsed.hostname}:${port}` };
}

/**
 * Last resort when a graceful close gets no answer (broker gone silent): amqplib offers no hard
 * close, so reset its socket, which it handles as a lost connection.
 */
function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: Socket }).stream;
  stream?.destroy(new Error('closed without an answer from RabbitMQ'));
}
