import { getOperationAST, Kind, print, type DocumentNode, type ExecutionResult, type FieldNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AsyncQueue } from '../lib/async-queue.ts';

/**
 * One execution per event for all the subscribers of the same subscription.
 *
 * Subscriptions with the same document, variables and viewer get the same results. For root fields
 * that stream snapshots of a state (`jobProgress`: the job now, then the job after each change),
 * the first subscriber's subscription is run once and its ExecutionResults are handed to every
 * subscriber of that key (a hub). A subscriber that joins later starts from the latest result,
 * which is what its own subscription would have sent first: the state now. The results are the
 * same objects for all, so a writer can frame each once (sse.ts) and the per-subscriber work is
 * the socket write.
 *
 * A subscriber that falls behind (its socket or the process is slower than the events) keeps a
 * queue; a result waiting there is replaced by a newer one that differs from it only in fields
 * named `transient` (progress and message: latest wins). Every other change (a status) stays in
 * the queue in order, and the last result always arrives, then the end of the stream.
 *
 * Left out on purpose: streams of events (jobEvents, jobUpdates) are not shared, since a late
 * subscriber needs what came before it joined; anonymous callers are not shared (their error is
 * their own); an operation with directives or more than one root field is run on its own.
 */
export interface SharedSubscriptionOptions<Context> {
  /** Root subscription fields whose results are snapshots of a state, with the fields a newer result may overwrite. */
  fields: Record<string, { transient: readonly string[] }>;
  /** Who the results are computed for: callers with the same key see the same results; undefined: not shared. */
  viewerKey: (context: Context) => string | undefined;
}

type Result = ExecutionResult;

/** The envelop/yoga plugin; `hubs()` is for tests and metrics: how many shared subscriptions run now. */
export function useSharedSubscriptions<Context extends object>(
  opts: SharedSubscriptionOptions<Context>,
): Plugin<Context> & { hubs(): number } {
  const hubs = new Map<string, Promise<Hub | undefined>>();
  const documentText = new WeakMap<DocumentNode, string>();
  const textOf = (document: DocumentNode) => {
    let text = documentText.get(document);
    if (text === undefined) {
      text = print(document);
      documentText.set(document, text);
    }
    return text;
  };

  return {
    hubs: () => hubs.size,
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      const root = operation && shareableRoot(operation, opts.fields);
      if (!root) return;
      const viewer = opts.viewerKey(args.contextValue as Context);
      if (viewer === undefined) return;
      const key = JSON.stringify([textOf(args.document), args.operationName ?? null, args.variableValues ?? null, viewer]);
      const upstream = subscribeFn;
      setSubscribeFn(((subscribeArgs: Parameters<typeof upstream>[0]) => {
        const existing = hubs.get(key);
        if (existing) {
          // A hub runs or is starting: join it, or run alone if its start came to an error.
          return existing.then((hub) => hub?.join() ?? upstream(subscribeArgs));
        }
        // What the map holds for this hub, so a closing hub removes itself and not a successor.
        const slot: { started?: Promise<Hub | undefined> } = {};
        const starting = Promise.resolve(upstream(subscribeArgs)).then(
          (result) => {
            if (!isAsyncIterable(result)) {
              hubs.delete(key);
              return { alone: result as Result };
            }
            const hub = new Hub(result as AsyncIterable<Result>, root, () => {
              if (hubs.get(key) === slot.started) hubs.delete(key);
            });
            return { hub };
          },
          (error: unknown) => {
            hubs.delete(key);
            throw error;
          },
        );
        slot.started = starting.then(
          (s) => s.hub,
          () => undefined,
        );
        hubs.set(key, slot.started);
        return starting.then((s) => s.hub?.join() ?? s.alone);
      }) as typeof upstream);
    },
  };
}

/** The root field of a shareable operation and its transient response keys, or undefined. */
function shareableRoot(operation: OperationDefinitionNode, fields: SharedSubscriptionOptions<never>['fields']): Root | undefined {
  if (operation.operation !== 'subscription' || operation.directives?.length) return undefined;
  const [field, ...more] = operation.selectionSet.selections;
  if (!field || more.length || field.kind !== Kind.FIELD || field.directives?.length) return undefined;
  const spec = fields[field.name.value];
  if (!spec) return undefined;
  return { key: responseKey(field), transient: new Set(transientKeys(field, spec.transient)) };
}

interface Root {
  /** The field's key in `data` (its alias, if any). */
  key: string;
  /** Keys under it a newer result may overwrite while a subscriber is behind. */
  transient: Set<string>;
}

function responseKey(field: FieldNode): string {
  return field.alias?.value ?? field.name.value;
}

/** Response keys of the fields named `transient`, selected directly (a fragment's fields count as lasting). */
function* transientKeys(field: FieldNode, transient: readonly string[]): Generator<string> {
  for (const selection of field.selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD && !selection.directives?.length && transient.includes(selection.name.value)) {
      yield responseKey(selection);
    }
  }
}

/** Whether `newer` may take the place of `older` in a queue: they differ only in transient fields. */
function supersedes(older: Result, newer: Result, root: Root): boolean {
  if (older.errors || newer.errors || older.extensions || newer.extensions) return false;
  const a = older.data?.[root.key];
  const b = newer.data?.[root.key];
  if (!isRecord(a) || !isRecord(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (root.transient.has(key)) continue;
    if (a[key] !== b[key] && JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  }
  return true;
}

/**
 * One upstream subscription and its subscribers. It reads upstream as fast as it yields, whatever
 * the subscribers do, and ends them when it ends; the last subscriber to leave stops it.
 */
class Hub {
  readonly #upstream: AsyncIterator<Result>;
  readonly #subscribers = new Set<Subscriber>();
  #latest: Result | undefined;
  #ended = false;
  #error: { error: unknown } | undefined;

  private readonly root: Root;
  private readonly onClose: () => void;

  constructor(upstream: AsyncIterable<Result>, root: Root, onClose: () => void) {
    this.root = root;
    this.onClose = onClose;
    this.#upstream = upstream[Symbol.asyncIterator]();
    void this.#pump();
  }

  join(): AsyncIterableIterator<Result> {
    const subscriber = new Subscriber(this.root, () => this.#leave(subscriber));
    if (this.#latest) subscriber.offer(this.#latest);
    if (this.#ended) subscriber.end(this.#error);
    else this.#subscribers.add(subscriber);
    return subscriber;
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const next = await this.#upstream.next();
        if (next.done) break;
        const result = next.value;
        this.#latest = result;
        for (const subscriber of this.#subscribers) subscriber.offer(result);
        if (this.#subscribers.size === 0) return; // all left meanwhile; #leave stopped upstream
      }
      this.#finish(undefined);
    } catch (error) {
      this.#finish({ error });
    }
  }

  #finish(error: { error: unknown } | undefined): void {
    this.#ended = true;
    this.#error = error;
    this.onClose();
    for (const subscriber of this.#subscribers) subscriber.end(error);
    this.#subscribers.clear();
  }

  #leave(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber) || this.#subscribers.size > 0 || this.#ended) return;
    this.#ended = true;
    this.onClose();
    void this.#upstream.return?.()?.catch(() => {});
  }
}

/** One subscriber's side: a queue of results (a newer one replaces a superseded one) and its end. */
class Subscriber implements AsyncIterableIterator<Result> {
  readonly #queue: AsyncQueue<Result>;
  #left = false;

  private readonly onLeave: () => void;

  constructor(root: Root, onLeave: () => void) {
    this.onLeave = onLeave;
    this.#queue = new AsyncQueue({ replaces: (older, newer) => supersedes(older, newer, root) });
  }

  offer(result: Result): void {
    this.#queue.push(result);
  }

  end(error: { error: unknown } | undefined): void {
    this.#queue.end(error);
  }

  async next(): Promise<IteratorResult<Result>> {
    // Without a time limit, next() never answers TIMED_OUT.
    return (await this.#queue.next()) as IteratorResult<Result>;
  }

  return(): Promise<IteratorResult<Result>> {
    if (!this.#left) {
      this.#left = true;
      this.#queue.close();
      this.onLeave();
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error: unknown): Promise<IteratorResult<Result>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
