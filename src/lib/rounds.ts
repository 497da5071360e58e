/**
 * Runs `round` every `intervalMs`, never two at once: a round still running when the next is due
 * is not doubled, the tick is skipped. A round that rejects is handed to `onError`; the next runs
 * as usual. stop() waits for the round in flight.
 */
export class Rounds {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  private readonly round: () => Promise<unknown>;
  private readonly intervalMs: number;
  private readonly onError: (error: unknown) => void;

  constructor(round: () => Promise<unknown>, intervalMs: number, onError: (error: unknown) => void) {
    this.round = round;
    this.intervalMs = intervalMs;
    this.onError = onError;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.round()
        .catch(this.onError)
        .finally(() => (this.#running = undefined));
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
