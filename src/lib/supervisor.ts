import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Logger } from './logger.ts';

/**
 * What a supervised child says over its IPC channel: `ready` once it serves (with what its
 * parent needs to know), `failed` when it cannot start (then it exits), `reply` to a request of
 * its parent's (SupervisedProcess.request, answered through answerParent).
 */
export type ChildMessage = { type: 'ready'; [key: string]: unknown } | { type: 'failed'; message: string } | ChildReply;

/** A child's answer to its parent's request `requestId`: its value, or why it has none. */
export type ChildReply = { type: 'reply'; requestId: number; value?: unknown; error?: string };

/** What a parent asks its child (SupervisedProcess.request): `type` names the question. */
export type ParentRequest = { type: string; requestId: number; [key: string]: unknown };

export interface SupervisedOptions {
  /** For logs and errors: "worker", "ledger". */
  name: string;
  /** The module to run (a path), with the same Node flags as this process (tsx's loader too). */
  module: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Start it again when it exits on its own, after a pause that doubles from 1 s up to 30 s. */
  restart: boolean;
  /** Its scheduling priority (nice, -20…19), where the OS lets it be set: higher yields the CPU to this process. */
  nice?: number;
  /** Called when it exited on its own (before any restart). */
  onExit?: (exit: { code: number | null; signal: NodeJS.Signals | null; pid: number }) => void | Promise<void>;
}

/**
 * One child process that `npm start` keeps running, as BullMQ's sandboxed processors keep theirs:
 * its crash or endless loop costs its own process, and it comes back. The child ends when its
 * parent does (its IPC channel closes; see exitWithParent).
 */
export class SupervisedProcess {
  readonly #opts: SupervisedOptions;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** The child once it said `ready`, until it exits: the one requests go to. */
  #ready: ChildProcess | undefined;
  #lastRequest = 0;
  /** Requests waiting for their reply: settled by it, by their timeout, or by the child's exit. */
  readonly #pending = new Map<number, { child: ChildProcess; settle: (reply: ChildReply | undefined) => void }>();

  constructor(opts: SupervisedOptions) {
    this.#opts = opts;
  }

  get name(): string {
    return this.#opts.name;
  }

  /** Starts the child; resolves with its first `ready`, rejects if it fails or exits first. */
  start(): Promise<ChildMessage & { type: 'ready' }> {
    return new Promise((resolve, reject) => this.#spawn(resolve, reject));
  }

  /**
   * Asks the running child `message` (answered by its answerParent(message.type, ...)) and resolves
   * with the value it answers. Never rejects and never waits past `timeoutMs`: undefined when no
   * child is ready (starting, restarting, stopped), when it answers an error, does not answer in
   * time, or exits meanwhile (each logged at debug).
   */
  request(message: { type: string; [key: string]: unknown }, timeoutMs: number): Promise<unknown> {
    const child = this.#ready;
    const { name, logger } = this.#opts;
    if (!child?.connected) return Promise.resolve(undefined);
    const requestId = ++this.#lastRequest;
    return new Promise((resolve) => {
      const settle = (reply: ChildReply | undefined, why?: string): void => {
        if (!this.#pending.delete(requestId)) return;
        clearTimeout(timer);
        if (reply?.error !== undefined) why = `it answered an error: ${reply.error}`;
        if (why) logger.debug({ child: name, pid: child.pid, request: message.type, timeoutMs }, `${name} process gave no answer to ${message.type}: ${why}`);
        resolve(why ? undefined : reply?.value);
      };
      const timer = setTimeout(() => settle(undefined, `none within ${timeoutMs} ms`), timeoutMs);
      this.#pending.set(requestId, { child, settle: (reply) => settle(reply, reply ? undefined : 'it exited') });
      const request: ParentRequest = { ...message, requestId };
      try {
        child.send(request, (error) => {
          if (error) settle(undefined, `the request could not be sent (${error.message})`);
        });
      } catch (error) {
        settle(undefined, `the request could not be sent (${error instanceof Error ? error.message : String(error)})`);
      }
    });
  }

  /** Sends SIGTERM and waits for the exit; SIGKILL after `timeoutMs`. Idempotent. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.#opts.logger.warn({ child: this.#opts.name, pid: child.pid, timeoutMs }, 'child did not stop in time; killing it');
      child.kill('SIGKILL');
    }, timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  #spawn(resolve?: (message: ChildMessage & { type: 'ready' }) => void, reject?: (error: Error) => void): void {
    const { name, module, env, logger } = this.#opts;
    // Advanced serialization (structured clone): replies may carry NaN and Infinity, which JSON cannot.
    const child = fork(module, [], { env, execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.#child = child;
    if (this.#opts.nice !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, this.#opts.nice);
      } catch (error) {
        logger.debug({ err: error, child: name }, 'could not set the priority');
      }
    }
    let ready = false;
    let failure: string | undefined;
    child.on('message', (message: ChildMessage) => {
      if (message?.type === 'reply') return void this.#pending.get(message.requestId)?.settle(message);
      if (message?.type === 'failed') failure = message.message;
      if (message?.type !== 'ready') return;
      ready = true;
      this.#ready = child;
      this.#restarts = 0;
      logger.info({ child: name, pid: child.pid }, `${name} process ready`);
      resolve?.(message);
    });
    child.once('exit', (code, signal) => {
      if (this.#ready === child) this.#ready = undefined;
      for (const pending of [...this.#pending.values()]) if (pending.child === child) pending.settle(undefined);
      // Killed by a signal before it said ready (it may have been running jobs already): started
      // again like any death, and the start waits for that one. Its own failure ends the start.
      const killedEarly = !ready && signal !== null && failure === undefined && !this.#stopping;
      if (!ready && !killedEarly) {
        reject?.(new Error(failure ?? `the ${name} process exited before it was ready (code ${code}, signal ${signal})`));
        if (reject) return;
      }
      if (this.#stopping) return;
      // Exit 0 on its own is a planned end (a worker replaced after a job grew it): no pause.
      const planned = code === 0;
      if (planned) logger.info({ child: name, pid: child.pid }, `${name} process ended to be replaced`);
      else logger.error({ child: name, pid: child.pid, code, signal }, `${name} process exited`);
      void Promise.resolve(this.#opts.onExit?.({ code, signal, pid: child.pid ?? 0 })).catch((error: unknown) =>
        logger.error({ err: error, child: name }, 'onExit failed'),
      );
      if (!this.#opts.restart) return;
      const pauseMs = planned ? 0 : Math.min(30_000, 1_000 * 2 ** this.#restarts++);
      logger.warn({ child: name, pauseMs }, `starting the ${name} process again`);
      this.#restartTimer = setTimeout(() => (killedEarly ? this.#spawn(resolve, reject) : this.#spawn()), pauseMs);
    });
  }
}

/** In a supervised child: tell the parent it is ready. */
export function tellParent(message: ChildMessage): void {
  // A parent that just died has closed the channel: nobody to tell (the callback keeps the
  // failed send from throwing ERR_IPC_CHANNEL_CLOSED into the process).
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

/**
 * In a supervised child: answers the parent's requests of `type` (SupervisedProcess.request) with
 * what `answer` resolves to, or the message of what it throws. Returns the function that stops
 * answering. A reply the parent no longer waits for (its timeout passed) is dropped there.
 */
export function answerParent(type: string, answer: (request: ParentRequest) => unknown): () => void {
  const onMessage = (message: ParentRequest) => {
    if (message?.type !== type || typeof message.requestId !== 'number') return;
    const { requestId } = message;
    void (async () => answer(message))().then(
      (value) => replyToParent({ type: 'reply', requestId, value }),
      (error: unknown) => replyToParent({ type: 'reply', requestId, error: error instanceof Error ? error.message : String(error) }),
    );
  };
  process.on('message', onMessage);
  return () => void process.off('message', onMessage);
}

function replyToParent(reply: ChildReply): void {
  // The parent may be gone (exitWithParent ends this process then): nothing to tell.
  if (!process.connected) return;
  try {
    process.send?.(reply, undefined, {}, () => {});
  } catch (error) {
    // A value the channel cannot carry (a function, say): the parent hears why instead.
    if (reply.error === undefined) replyToParent({ type: 'reply', requestId: reply.requestId, error: error instanceof Error ? error.message : String(error) });
  }
}

/** Whether this process was started by a SupervisedProcess (it has an IPC channel). */
export const supervised = (): boolean => typeof process.send === 'function';

/**
 * In a supervised child: when the parent is gone (killed, crashed) the IPC channel closes, and
 * this process ends too, through `stop` and at most `graceMs` later.
 */
export function exitWithParent(stop: () => Promise<void>, graceMs: number): void {
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), graceMs).unref();
    // However stop ends: the parent is gone, so this process goes too.
    stop().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  });
}
