import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { once } from 'node:events';

/** What the server answers next: a status, headers and a JSON (or raw text) body, or nothing at all. */
export type Reply = { status?: number; headers?: Record<string, string>; body?: unknown } | 'hang';

export interface Received {
  headers: IncomingHttpHeaders;
  url: string;
  body: any;
  /** Set when the client dropped the connection before an answer (abort, timeout). */
  dropped: boolean;
}

/**
 * A chat-completions endpoint on a free local port, answering from a script of replies in order.
 * A request with no reply left gets a 500 that names the mistake, so a test never hangs on it.
 */
export class ChatServer {
  readonly received: Received[] = [];
  readonly #replies: Reply[] = [];
  readonly #waiters: (() => void)[] = [];

  private readonly server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => this.#handle(req.headers, req.url ?? '', text, res));
  });
  baseUrl = '';

  private constructor() {}

  static async start(): Promise<ChatServer> {
    const self = new ChatServer();
    self.server.listen(0, '127.0.0.1');
    await once(self.server, 'listening');
    const { port } = self.server.address() as { port: number };
    self.baseUrl = `http://127.0.0.1:${port}/v1`;
    return self;
  }

  reply(...replies: Reply[]): this {
    this.#replies.push(...replies);
    return this;
  }

  /** Resolves once `n` requests have arrived. */
  async requests(n: number): Promise<void> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  #handle(headers: IncomingHttpHeaders, url: string, text: string, res: ServerResponse): void {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const received: Received = { headers, url, body, dropped: false };
    this.received.push(received);
    res.on('close', () => {
      if (!res.writableFinished) received.dropped = true;
    });
    for (const wake of this.#waiters.splice(0)) wake();

    const reply = this.#replies.shift() ?? { status: 500, body: { error: { message: `test server: no reply scripted for request ${this.received.length}` } } };
    if (reply === 'hang') return;
    const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    res.end(payload);
  }
}

/** A chat-completions answer whose message is `content`. */
export function completion(content: string, usage = { prompt_tokens: 100, completion_tokens: 20 }, model = 'test-model-2026'): Reply {
  return {
    body: {
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 0,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    },
  };
}
