import type { Channel, ConsumeMessage } from 'amqplib';
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueUnavailableError, refuseUnfit } from './errors.ts';
import { CLOSE_TIMEOUT_MS, RabbitmqLink, type Link } from './rabbitmq-link.ts';
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
 * The connection and its reconnect loop are RabbitmqLink's (rabbitmq-link.ts); while it is down,
 * operations fail at once with QueueUnavailableError: the caller keeps the job in its outbox.
 */
export function createRabbitmqAdapter(opts: RabbitmqAdapterOptions): QueueAdapter {
  return new RabbitmqAdapter(opts);
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
/** close() lets handlers in flight finish this long, so their acks go out, before it cuts the connection. */
const CLOSE_GRACE_MS = 2_000;

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
  readonly #link: RabbitmqLink;
  /** host:port, for details and logs: never the URL. */
  readonly #where: string;
  #closed = false;
  #closing: Promise<void> | undefined;

  readonly #consumeOnce = new ConsumeOnce();
  #consuming: Consuming | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  /** Deliveries of this process not yet acked (running, or waiting for a slot). */
  readonly #inFlight = new InFlight();

  /** This process's consumer on each connection, once consume() was called. */
  readonly #consumers = new WeakMap<Link, Promise<Consumer>>();

  constructor(opts: RabbitmqAdapterOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'rabbitmq', queue: opts.queueName });
    this.#link = new RabbitmqLink({
      url: opts.url,
      heartbeatSeconds: opts.heartbeatSeconds ?? 10,
      queueName: opts.queueName,
      maxPriority: MAX_PRIORITY,
      log: this.#log,
      reconnectDelayMs: opts.reconnectDelayMs,
      reconnectMaxDelayMs: opts.reconnectMaxDelayMs,
      prepare: (link) => this.#startOn(link),
    });
    this.#where = this.#link.where;
    this.#log = this.#log.child({ broker: this.#where });
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
    const consumer = await this.#consumers.get(link)?.catch(() => undefined);
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
    const link = this.#link.current;
    const starting = link && this.#consumers.get(link);
    // Bounded: a consumer still being set up on an unresponsive broker must not hold the stop.
    const consumer = starting && (await withTimeout(starting, OPERATION_TIMEOUT_MS, 'RabbitMQ consumer').catch(() => undefined));
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
    await this.#link.close();
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

  #ready(): Promise<Link> {
    return this.#link.ready();
  }

  #checkQueue(link: Link) {
    return this.#link.checkQueue(link);
  }

  /** Bounds an operation and reports any failure but a refusal as the broker being unavailable. */
  #operation<T>(what: string, work: () => Promise<T>): Promise<T> {
    return operation(`RabbitMQ at ${this.#where}: ${what}`, work);
  }

  /** On each new connection, before it becomes current: the consumer starts on it. */
  async #startOn(link: Link): Promise<void> {
    if (!this.#consuming || this.#stopping) return;
    const consumer = await this.#ensureConsumer(link);
    // Cancelled by the broker before this link was current, nothing would rebuild it: fail instead.
    if (consumer.cancelled && !this.#stopping) throw new Error('RabbitMQ cancelled the consumer during setup');
  }

  // ── consumer ───────────────────────────────────────────────────────────────

  #ensureConsumer(link: Link): Promise<Consumer> {
    let consumer = this.#consumers.get(link);
    if (!consumer) {
      consumer = this.#startConsumer(link).catch((error: unknown) => {
        // On a live connection, rebuild it: the new link starts the consumer again.
        this.#link.rebuild(link, 'could not start the RabbitMQ consumer; reconnecting', error);
        throw error;
      });
      this.#consumers.set(link, consumer);
    }
    return consumer;
  }

  async #startConsumer(link: Link): Promise<Consumer> {
    const { concurrency } = this.#consuming!;
    const channel = await link.model.createChannel();
    channel.on('error', (error: Error) => this.#log.debug({ err: error }, 'RabbitMQ consumer channel error'));
    const consumer: Consumer = { link, channel, tag: '', cancelled: false, closed: false };
    channel.on('close', () => {
      consumer.closed = true;
      if (!consumer.cancelled) this.#link.channelClosed(link, 'consumer');
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
      if (!this.#stopping) this.#link.rebuild(consumer.link, "RabbitMQ cancelled this process's consumer; reconnecting");
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
