import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Message,
  type RecoveringChannelModel,
} from 'amqplib';
import type { Socket } from 'node:net';
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueUnavailableError, refuseUnfit } from './errors.ts';
import { CONSUME_WAIT_MS, ConsumeOnce, deliver, InFlight, operation, OPERATION_TIMEOUT_MS, timedProbe, type EntryData } from './shared.ts';
import type { DeliveryHandler, Dispatch, ProbeResult, QueueAdapter, QueueCapabilities, QueueCounts } from './types.ts';

export interface RabbitmqAdapterOptions {
  /** amqp:// or amqps:// URL. Never logged nor shown: it may hold a password. */
  url: string;
  /** The one queue every task type goes through. */
  queueName: string;
  logger: Logger;
  // Optional tuning, for tests: production uses the defaults.
  /** First reconnect delay after a lost connection or a failed attempt; doubles up to reconnectMaxDelayMs. Default 250. */
  reconnectDelayMs?: number;
  /** Default 5,000. */
  reconnectMaxDelayMs?: number;
  /** AMQP heartbeat: a connection silent for twice this long is taken as lost (a cut without a reset). Default 10. */
  heartbeatSeconds?: number;
}

/**
 * QueueAdapter on RabbitMQ (AMQP 0-9-1). One durable priority queue of persistent messages
 * `{ jobId, task }`; enqueue publishes on a confirm channel and resolves once the broker has the
 * message; the consumer has its own channel with prefetch = concurrency and acks each delivery
 * once its handler returned, whatever the outcome (the ledger has it). A delivery whose connection
 * died before its ack goes back to the queue and is delivered again; the claim drops it if the
 * job ran meanwhile.
 *
 * Connection (amqplib's opt-in recovery runs the loop, #setup builds each link on it):
 *
 *   idle ──first use──▶ connecting ──#setup done──▶ connected
 *                         ▲     │ failed               │ socket lost, heartbeats missed,
 *                         │     ▼                      │ or a channel closed by the broker
 *                         └── waiting (backoff 250 ms doubling to 5 s) ◀──┘
 *   any ──close()──▶ closed
 *
 * Only the very first attempt is waited for; while reconnecting, operations fail at once with
 * QueueUnavailableError: the caller keeps the job in its outbox and tries again.
 */
export function createRabbitmqAdapter(opts: RabbitmqAdapterOptions): QueueAdapter {
  return new RabbitmqAdapter(opts);
}

/** One AMQP connection and its channels; replaced whole after a reconnect. */
interface Link {
  model: ChannelModel;
  /** The confirm channel every enqueue publishes on. */
  publisher: ConfirmChannel;
  /** For checkQueue: a missing queue closes the channel it was checked on, so not the publisher. */
  inspector?: Promise<Channel> | undefined;
  /** This process's consumer on this connection, once consume() was called. */
  consumer?: Promise<Consumer>;
  /** Message ids the broker returned as unroutable (queue deleted), until their confirm arrives. */
  returned: Set<string>;
  open: boolean;
  /** Why the broker blocks publishing on this connection (a memory or disk alarm), if it does. */
  blocked?: string | undefined;
}

interface Consumer {
  link: Link;
  channel: Channel;
  tag: string;
  /** No more deliveries: cancelled by stopConsuming() or by the broker. */
  cancelled: boolean;
  cancelling?: Promise<void>;
  /** The channel is gone: its deliveries can no longer be acked and go back to the queue. */
  closed: boolean;
}

/** What consume() was given; set once. */
interface Consuming {
  handler: DeliveryHandler;
  concurrency: number;
  /**
   * Holds the limit across a reconnect: handlers from the old connection may still run while the
   * new consumer gets its own prefetch worth of deliveries.
   */
  slots: Semaphore;
}

/** 10 levels, 0..9 (the queue could hold 0..10; 10 levels is what we map onto). */
const MAX_PRIORITY = 10;
const PRIORITY_LEVELS = 10;
/** probe() answers within this. */
const PROBE_TIMEOUT_MS = 3_000;
/** Socket idle limit while connecting and during the AMQP handshake (a peer that accepts and says nothing). */
const CONNECT_TIMEOUT_MS = 3_000;
/** Declaring the queue and opening the channels of a new connection. */
const SETUP_TIMEOUT_MS = 5_000;
/** close() lets handlers in flight finish this long, so their acks go out, before it cuts the connection. */
const CLOSE_GRACE_MS = 2_000;
/** A graceful AMQP close waits for the broker's answer; past this the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 2_000;

class RabbitmqAdapter implements QueueAdapter {
  readonly name = 'rabbitmq' as const;
  readonly capabilities: QueueCapabilities = {
    durable: true,
    // AMQP has no publish dedupe: a re-send adds a second message, whose delivery the claim drops.
    deduplicates: false,
    // AMQP cannot take a published message back.
    remove: false,
    // Delays are held by the ledger (the delayed-message exchange is a plugin, not always there).
    maxDelayMs: 0,
    priorityLevels: PRIORITY_LEVELS,
    shared: true,
  };

  readonly #opts: RabbitmqAdapterOptions;
  readonly #log: Logger;
  /** The URL with our heartbeat unless it sets one. */
  readonly #url: string;
  /** host:port, for details and logs: never the URL. */
  readonly #where: string;

  #connection: Promise<RecoveringChannelModel> | undefined;
  #link: Link | undefined;
  /** Callers waiting for the very first connection. */
  #waiters: { resolve: (link: Link) => void; reject: (error: Error) => void }[] = [];
  /** Why the last attempt failed or the connection was lost; cleared once connected. */
  #down: Error | undefined;
  /** The current outage was logged at warn: the retries log at debug. */
  #warned = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  readonly #consumeOnce = new ConsumeOnce();
  #consuming: Consuming | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  /** Deliveries of this process not yet acked (running, or waiting for a slot). */
  readonly #inFlight = new InFlight();

  constructor(opts: RabbitmqAdapterOptions) {
    const { url, where } = amqpUrl(opts.url, opts.heartbeatSeconds ?? 10);
    this.#opts = opts;
    this.#url = url;
    this.#where = where;
    this.#log = opts.logger.child({ component: 'rabbitmq', queue: opts.queueName, broker: where });
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  probe(): Promise<ProbeResult> {
    return timedProbe(PROBE_TIMEOUT_MS, () => this.#probe(), (error) =>
      errorText(error).startsWith('no answer within') ? `RabbitMQ at ${this.#where}: ${errorText(error)}` : errorText(error),
    );
  }

  async #probe(): Promise<string> {
    const link = await this.#ready();
    if (link.blocked !== undefined) throw new Error(`RabbitMQ at ${this.#where} blocks publishing: ${link.blocked}`);
    const { messageCount } = await this.#checkQueue(link);
    const answers = `RabbitMQ at ${this.#where} answers (queue ${this.#opts.queueName}: ${messageCount} ready)`;
    if (!this.#consuming) return answers;
    if (this.#stopping) return `${answers}; consumer stopped`;
    const consumer = await link.consumer?.catch(() => undefined);
    if (!consumer || consumer.cancelled || consumer.closed) {
      throw new Error(`RabbitMQ at ${this.#where} answers, but this process's consumer is not running`);
    }
    return `${answers}; consuming (${this.#inFlight.size} in flight)`;
  }

  /**
   * Resolves once the consumer runs on a connection, or at once while RabbitMQ cannot be reached:
   * the consumer starts with the next connection (the reconnect loop runs until close()).
   */
  async consume(handler: DeliveryHandler, concurrency: number): Promise<void> {
    if (this.#closed) throw new Error('the RabbitMQ adapter is closed');
    // prefetch is an unsigned short, and 0 would mean no limit at all.
    this.#consumeOnce.claim(concurrency, 65_535);
    this.#consuming = { handler, concurrency, slots: new Semaphore(concurrency) };
    const starting = () => this.#ready().then((link) => this.#ensureConsumer(link));
    await operation(`RabbitMQ at ${this.#where}: consume`, starting, CONSUME_WAIT_MS).catch((error: unknown) =>
      this.#log.warn({ err: error }, 'the RabbitMQ consumer will start once the broker is reachable'),
    );
  }

  stopConsuming(): Promise<void> {
    if (!this.#consuming) return Promise.resolve();
    this.#stopped ??= this.#stopConsuming();
    return this.#stopped;
  }

  async #stopConsuming(): Promise<void> {
    this.#stopping = true;
    const link = this.#link;
    // Bounded: a consumer still being set up on an unresponsive broker must not hold the stop.
    const consumer = link?.consumer && (await withTimeout(link.consumer, OPERATION_TIMEOUT_MS, 'RabbitMQ consumer').catch(() => undefined));
    if (consumer) await this.#cancel(consumer);
    // Each delivery settles (ack, or requeue if it had not started) before its promise resolves.
    await this.#inFlight.drain();
    if (consumer && !consumer.closed) {
      await withTimeout(consumer.channel.close(), CLOSE_TIMEOUT_MS, 'closing the consumer channel').catch((error: unknown) =>
        this.#log.debug({ err: error }, 'could not close the consumer channel'),
      );
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#consuming) {
      await withTimeout(this.stopConsuming(), CLOSE_GRACE_MS, 'RabbitMQ stopConsuming').catch(() =>
        this.#log.warn({ inFlight: this.#inFlight.size }, 'closing with deliveries in flight: RabbitMQ delivers them again'),
      );
    }
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

  // ── enqueue ────────────────────────────────────────────────────────────────

  async enqueue(dispatch: Dispatch): Promise<string> {
    const priority = priorityLevel(refuseUnfit(dispatch, this.capabilities.maxDelayMs));
    return this.#operation('enqueue', () => this.#publish(dispatch, priority));
  }

  async #publish({ jobId, key, task }: Dispatch, priority: number): Promise<string> {
    const link = await this.#ready();
    // A blocked connection takes publishes and confirms none until the alarm clears: fail now.
    if (link.blocked !== undefined) throw new QueueUnavailableError(`RabbitMQ at ${this.#where} blocks publishing: ${link.blocked}`);
    const body: EntryData = { jobId, task };
    await new Promise<void>((resolve, reject) => {
      // Called once the broker confirmed (ack) or refused (nack) the message, or when the channel
      // closed first. A full write buffer (false returned) needs no wait of ours: the confirm is it.
      link.publisher.sendToQueue(
        this.#opts.queueName,
        Buffer.from(JSON.stringify(body)),
        // mandatory: an unroutable message (queue deleted) comes back instead of being confirmed and dropped.
        { persistent: true, mandatory: true, priority, messageId: key, type: task, contentType: 'application/json' },
        (error: unknown) => {
          if (link.returned.delete(key)) reject(new QueueUnavailableError(`RabbitMQ at ${this.#where} has no queue ${this.#opts.queueName}; declaring it again`));
          else if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else resolve();
        },
      );
    });
    return key;
  }

  async remove(_queueRef: string): Promise<boolean> {
    return false; // AMQP cannot take a message back (capabilities.remove = false)
  }

  // ── inspection ─────────────────────────────────────────────────────────────

  async counts(): Promise<QueueCounts> {
    return this.#operation('counts', () =>
      this.#ready().then(async (link) => {
        const { messageCount } = await this.#checkQueue(link);
        // messageCount is the ready messages only. AMQP has no cluster-wide count of unacked ones
        // without the management plugin, so active is this process's deliveries in flight.
        return { waiting: messageCount, delayed: 0, active: this.#inFlight.size };
      }),
    );
  }

  // ── connection ─────────────────────────────────────────────────────────────

  /** The current link; waits only for the very first connection, else fails at once while reconnecting. */
  #ready(): Promise<Link> {
    if (this.#closed) return Promise.reject(new QueueUnavailableError('the RabbitMQ adapter is closed'));
    this.#start();
    if (this.#link) return Promise.resolve(this.#link);
    if (this.#down) return Promise.reject(this.#unreachable());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #unreachable(): QueueUnavailableError {
    return new QueueUnavailableError(`RabbitMQ at ${this.#where} is not connected: ${errorText(this.#down)}`);
  }

  /** Bounds an operation and reports any failure but a refusal as the broker being unavailable. */
  #operation<T>(what: string, work: () => Promise<T>): Promise<T> {
    return operation(`RabbitMQ at ${this.#where}: ${what}`, work);
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
    publisher.on('close', () => this.#channelClosed(link, 'publisher'));

    if (this.#consuming && !this.#stopping) {
      const consumer = await this.#ensureConsumer(link);
      // Cancelled by the broker before this link was current, nothing would rebuild it: fail instead.
      if (consumer.cancelled && !this.#stopping) throw new Error('RabbitMQ cancelled the consumer during setup');
    }
    if (state.lost || attempt.abandoned || this.#closed) throw new Error('the connection closed during setup');
    this.#linkUp(link);
  }

  #declare(channel: Channel) {
    return channel.assertQueue(this.#opts.queueName, { durable: true, maxPriority: MAX_PRIORITY });
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

  /** A channel the broker closed on a live connection: rebuild the whole link rather than patch it. */
  #channelClosed(link: Link, which: string): void {
    // Deferred: when the connection itself closes, its channels close first, before its 'close'.
    setImmediate(() => this.#rebuild(link, `RabbitMQ closed the ${which} channel; reconnecting`));
  }

  /** Closes a live link on purpose; amqplib reconnects and #setup builds it anew. Logged once, as the loss. */
  #rebuild(link: Link, reason: string, error?: unknown): void {
    if (!link.open || this.#closed || this.#link !== link) return;
    if (!this.#warned) this.#log.warn({ err: error }, reason);
    this.#warned = true;
    link.model.close().catch(() => {});
  }

  async #checkQueue(link: Link) {
    link.inspector ??= this.#openInspector(link);
    const channel = await link.inspector;
    try {
      return await channel.checkQueue(this.#opts.queueName);
    } catch (error) {
      throw new Error(`RabbitMQ at ${this.#where}: cannot check queue ${this.#opts.queueName}: ${errorText(error)}`, { cause: error });
    }
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

  // ── consumer ───────────────────────────────────────────────────────────────

  #ensureConsumer(link: Link): Promise<Consumer> {
    link.consumer ??= this.#startConsumer(link).catch((error: unknown) => {
      // On a live connection, rebuild it: the new link starts the consumer again.
      this.#rebuild(link, 'could not start the RabbitMQ consumer; reconnecting', error);
      throw error;
    });
    return link.consumer;
  }

  async #startConsumer(link: Link): Promise<Consumer> {
    const { concurrency } = this.#consuming!;
    const channel = await link.model.createChannel();
    channel.on('error', (error: Error) => this.#log.debug({ err: error }, 'RabbitMQ consumer channel error'));
    const consumer: Consumer = { link, channel, tag: '', cancelled: false, closed: false };
    channel.on('close', () => {
      consumer.closed = true;
      if (!consumer.cancelled) this.#channelClosed(link, 'consumer');
    });
    // Per consumer (RabbitMQ's reading of global = false): at most `concurrency` unacked deliveries.
    await channel.prefetch(concurrency);
    const { consumerTag } = await channel.consume(this.#opts.queueName, (message) => this.#onDelivery(consumer, message), { noAck: false });
    consumer.tag = consumerTag;
    // stopConsuming() may have come while this was being set up.
    if (this.#stopping) await this.#cancel(consumer);
    return consumer;
  }

  #onDelivery(consumer: Consumer, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled us (queue deleted, or its node went down): rebuild the link, which
      // declares the queue and consumes again.
      consumer.cancelled = true;
      if (!this.#stopping) this.#rebuild(consumer.link, "RabbitMQ cancelled this process's consumer; reconnecting");
      return;
    }
    if (this.#stopping || consumer.cancelled) {
      // Sent before the broker took our cancel: hand it back.
      this.#settle(consumer, message, 'requeue');
      void this.#cancel(consumer);
      return;
    }
    void this.#inFlight.track(this.#deliver(consumer, message));
  }

  /** Runs one delivery in a free slot and settles it. Never rejects. */
  async #deliver(consumer: Consumer, message: ConsumeMessage): Promise<void> {
    const { handler, slots } = this.#consuming!;
    const jobId = jobIdOf(message.content);
    if (jobId === undefined) {
      this.#log.error({ messageId: message.properties.messageId }, 'RabbitMQ message without a jobId; dropping it');
      this.#settle(consumer, message, 'ack');
      return;
    }
    const release = await slots.acquire();
    try {
      // Waited for a slot while consumption stopped or its connection died: not started.
      if (this.#stopping || consumer.closed) {
        this.#settle(consumer, message, 'requeue');
        return;
      }
      await deliver(handler, jobId, this.#log, { messageId: message.properties.messageId });
      this.#settle(consumer, message, 'ack');
    } finally {
      release();
    }
  }

  #settle(consumer: Consumer, message: ConsumeMessage, how: 'ack' | 'requeue'): void {
    const context = { messageId: message.properties.messageId, redelivered: message.fields.redelivered };
    if (consumer.closed) {
      this.#log.debug(context, 'delivery not settled: its connection is gone, RabbitMQ delivers it again');
      return;
    }
    try {
      if (how === 'ack') consumer.channel.ack(message);
      else consumer.channel.nack(message, false, true);
    } catch (error) {
      // The channel closed between the check and the send.
      this.#log.debug({ ...context, err: error }, 'delivery not settled: its connection is gone, RabbitMQ delivers it again');
    }
  }

  /** Stops deliveries to this consumer; idempotent. Never rejects. */
  #cancel(consumer: Consumer): Promise<void> {
    consumer.cancelled = true;
    consumer.cancelling ??= consumer.closed
      ? Promise.resolve()
      : withTimeout(consumer.channel.cancel(consumer.tag), OPERATION_TIMEOUT_MS, 'RabbitMQ cancel').then(
          () => {},
          (error: unknown) => this.#log.debug({ err: error }, 'could not cancel the RabbitMQ consumer'),
        );
    return consumer.cancelling;
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

/** -1000..1000 onto AMQP levels 0..9, keeping order: 1000 → 9, 0 → 5, -1000 → 0. */
function priorityLevel(priority: number): number {
  return Math.round(((priority + 1000) / 2000) * (PRIORITY_LEVELS - 1));
}

function jobIdOf(content: Buffer): string | undefined {
  try {
    const body = JSON.parse(content.toString('utf8')) as Partial<EntryData> | null;
    return typeof body?.jobId === 'string' && body.jobId !== '' ? body.jobId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Last resort when a graceful close gets no answer (broker gone silent): amqplib offers no hard
 * close, so reset its socket, which it handles as a lost connection.
 */
function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: Socket }).stream;
  stream?.destroy(new Error('closed without an answer from RabbitMQ'));
}
