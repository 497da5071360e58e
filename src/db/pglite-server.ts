/**
 * Serves one PGlite database to many PostgreSQL clients over the wire protocol, so that the API
 * and worker processes of an embedded deployment share the embedded ledger as they would share a
 * PostgreSQL server. PGlite is a single session; this server makes it safe to share:
 *
 * - A client holds the session from its first message to the end of its unit of work: a simple
 *   query, or an extended-protocol batch up to its Sync, and then for as long as the
 *   ReadyForQuery status says it is inside a transaction ('T', 'E'). Nobody else's messages run
 *   in between, so one client's unnamed statement or open transaction is never another's.
 * - Named prepared statements and portals are renamed per client (`c<id>_<name>`), so two
 *   clients preparing "claim" do not collide in the one session; a client's are dropped when it
 *   leaves. A client that leaves mid-transaction is rolled back.
 * - LISTEN is session-wide in PGlite: notifications are taken out of whichever client's reply
 *   they ride and sent to the clients that asked for that channel.
 *
 * @electric-sql/pglite-socket's multiplexer interleaves clients message by message outside
 * explicit transactions, which lets one client's Bind meet another's Parse: hence this one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

export interface PGliteServerOptions {
  db: PGlite;
  host?: string;
  /** 0: any free port. */
  port?: number;
  onError?: (error: unknown) => void;
  /**
   * Clients that wait ahead of the rest for the session, by their startup parameters
   * (application_name…): an API's short reads need not queue behind a worker's batch statements.
   */
  ahead?: (params: Record<string, string>) => boolean;
}

export class PGliteServer {
  readonly #db: PGlite;
  readonly #server: Server;
  readonly #opts: PGliteServerOptions;
  readonly #clients = new Set<Client>();
  /** The session lease: whoever holds it runs; the rest wait in order. */
  #holder: Client | undefined;
  readonly #waiting: { client: Client; grant: () => void }[] = [];
  #nextId = 1;
  #closed: Promise<void> | undefined;

  constructor(opts: PGliteServerOptions) {
    this.#opts = opts;
    this.#db = opts.db;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port ?? 0, this.#opts.host ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  }

  /** Stops accepting, drops every client (rolling back what they left open). Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      const closing = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const client of this.#clients) client.socket.destroy();
      await Promise.all([...this.#clients].map((client) => client.gone));
      await closing;
    })());
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const client = new Client(this.#nextId++, socket);
    this.#clients.add(client);
    let chain = Promise.resolve();
    let buffered = Buffer.alloc(0);
    socket.on('data', (data) => {
      buffered = buffered.length ? Buffer.concat([buffered, data]) : data;
      const messages: Buffer[] = [];
      for (;;) {
        const length = messageLength(buffered, client.started);
        if (length === undefined || buffered.length < length) break;
        messages.push(buffered.subarray(0, length));
        buffered = buffered.subarray(length);
      }
      // One client's messages run in order; the lease orders clients among themselves.
      if (messages.length) chain = chain.then(() => this.#handle(client, messages)).catch((error: unknown) => this.#fail(client, error));
    });
    socket.on('error', () => {}); // a reset client is handled on 'close'
    socket.on('close', () => {
      client.closed = true;
      void chain.then(() => this.#leave(client)).catch((error: unknown) => this.#opts.onError?.(error)).finally(() => {
        this.#clients.delete(client);
        client.markGone();
      });
    });
  }

  async #handle(client: Client, messages: Buffer[]): Promise<void> {
    for (const message of messages) {
      if (client.closed) return;
      if (!client.started) {
        await this.#startup(client, message);
        continue;
      }
      const type = String.fromCharCode(message[0]!);
      if (type === 'X') {
        client.socket.end();
        return;
      }
      noteListens(client, type, message);
      if (type === 'Q' && this.#keepListening(client, message)) continue;
      await this.#acquire(client);
      const reply = await this.#exec(renameForClient(client, type, message));
      this.#send(client, reply);
      // A unit of work ends with a Sync or a simple query; the lease goes once it left no transaction open.
      if ((type === 'S' || type === 'Q') && client.status === 'I') this.#release(client);
    }
  }

  /** SSL and GSS requests are declined (loopback); the startup message is PGlite's to answer. */
  async #startup(client: Client, message: Buffer): Promise<void> {
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSS_REQUEST) {
      client.socket.write('N');
      return;
    }
    if (code === CANCEL_REQUEST) {
      client.socket.destroy(); // a cancel cannot reach a single-session engine mid-statement
      return;
    }
    client.started = true;
    client.ahead = this.#opts.ahead?.(startupParams(message)) ?? false;
    await this.#acquire(client);
    try {
      this.#send(client, await this.#exec(message));
    } finally {
      if (client.status === 'I') this.#release(client);
    }
  }

  #exec(message: Buffer): Promise<Uint8Array> {
    return this.#db.runExclusive(() => this.#db.execProtocolRaw(new Uint8Array(message.buffer, message.byteOffset, message.length)));
  }

  /** Writes a reply to its client, minus notifications, which go to whoever listens for them. */
  #send(client: Client, reply: Uint8Array): void {
    const bytes = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
    let start = 0;
    const parts: Buffer[] = [];
    for (let at = 0; at + 5 <= bytes.length; ) {
      const type = bytes[at]!;
      const end = at + 1 + bytes.readInt32BE(at + 1);
      if (type === NOTIFICATION) {
        if (at > start) parts.push(bytes.subarray(start, at));
        this.#notify(bytes.subarray(at, end));
        start = end;
      } else if (type === READY_FOR_QUERY) {
        client.status = String.fromCharCode(bytes[at + 5]!) as Client['status'];
      }
      at = end;
    }
    if (start < bytes.length) parts.push(bytes.subarray(start));
    if (!client.closed) for (const part of parts) client.socket.write(part);
  }

  #notify(message: Buffer): void {
    // NotificationResponse: Int32 pid, String channel, String payload.
    const channelEnd = message.indexOf(0, 9);
    const channel = message.toString('utf8', 9, channelEnd);
    for (const client of this.#clients) {
      if (!client.closed && client.listens.has(channel)) client.socket.write(message);
    }
  }

  /**
   * An UNLISTEN of a channel another client still listens to would end it for both (one session):
   * answered here as done, and not run. Only a lone `UNLISTEN <channel>` is answered so.
   */
  #keepListening(client: Client, message: Buffer): boolean {
    const match = /^\s*UNLISTEN\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*;?\s*$/i.exec(cString(message, 5).text);
    if (!match) return false;
    const raw = match[1]!;
    const channel = raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw.toLowerCase();
    const shared = [...this.#clients].some((other) => other !== client && !other.closed && other.listens.has(channel));
    if (!shared) return false;
    const ready = Buffer.from(client.status, 'latin1');
    client.socket.write(Buffer.concat([typed('C', Buffer.from('UNLISTEN\0')), typed('Z', ready)]));
    return true;
  }

  #acquire(client: Client): Promise<void> {
    if (this.#holder === client) return Promise.resolve();
    if (!this.#holder) {
      this.#holder = client;
      return Promise.resolve();
    }
    return new Promise((grant) => {
      // Behind every waiting client of its own rank, ahead of the others.
      const after = client.ahead ? this.#waiting.findIndex((entry) => !entry.client.ahead) : -1;
      this.#waiting.splice(after === -1 ? this.#waiting.length : after, 0, { client, grant });
    });
  }

  #release(client: Client): void {
    if (this.#holder !== client) return;
    const next = this.#waiting.shift();
    this.#holder = next?.client;
    next?.grant();
  }

  /** A client left: finish what it left open in the shared session, then let the next one in. */
  async #leave(client: Client): Promise<void> {
    const queued = this.#waiting.findIndex((entry) => entry.client === client);
    if (queued >= 0) this.#waiting.splice(queued, 1);
    const cleanup: Buffer[] = [];
    if (this.#holder === client) {
      cleanup.push(typed('S', Buffer.alloc(0))); // ends an extended batch cut before its Sync
      if (client.status !== 'I') cleanup.push(simpleQuery('ROLLBACK'));
    }
    if (client.statements.size) {
      if (this.#holder !== client) await this.#acquire(client);
      for (const name of client.statements) cleanup.push(simpleQuery(`DEALLOCATE ${quoteIdent(name)}`));
    }
    try {
      for (const message of cleanup) await this.#exec(message);
    } finally {
      this.#release(client);
    }
  }

  #fail(client: Client, error: unknown): void {
    this.#opts.onError?.(error);
    client.socket.destroy();
  }
}

class Client {
  started = false;
  closed = false;
  ahead = false;
  /** The last ReadyForQuery status: idle, in a transaction, in a failed transaction. */
  status: 'I' | 'T' | 'E' = 'I';
  /** Its prepared statements, by their name in the session. */
  readonly statements = new Set<string>();
  readonly listens = new Set<string>();
  readonly prefix: string;
  readonly gone: Promise<void>;
  markGone!: () => void;

  readonly id: number;
  readonly socket: Socket;
  constructor(
    id: number,
    socket: Socket) {
    this.id = id;
    this.socket = socket;
    this.prefix = `c${id}_`;
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const NOTIFICATION = 'A'.charCodeAt(0);
const READY_FOR_QUERY = 'Z'.charCodeAt(0);

/** The whole length of the next message, or undefined while its header is incomplete. */
function messageLength(buffer: Buffer, started: boolean): number | undefined {
  if (!started) return buffer.length >= 4 ? buffer.readInt32BE(0) : undefined;
  return buffer.length >= 5 ? 1 + buffer.readInt32BE(1) : undefined;
}

/** The name/value pairs of a StartupMessage (after its length and protocol version). */
function startupParams(message: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  for (let at = 8; at < message.length - 1; ) {
    const key = cString(message, at);
    if (!key.text) break;
    const value = cString(message, key.next);
    params[key.text] = value.text;
    at = value.next;
  }
  return params;
}

function typed(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

function simpleQuery(sql: string): Buffer {
  return typed('Q', Buffer.from(`${sql}\0`, 'utf8'));
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Reads the null-terminated string at `at`: its text and where the next field starts. */
function cString(message: Buffer, at: number): { text: string; next: number } {
  const end = message.indexOf(0, at);
  return { text: message.toString('utf8', at, end), next: end + 1 };
}

/**
 * Gives the client's named statements and portals their session-wide names: Parse (P), Bind (B),
 * Describe (D), Close (C) and Execute (E). Unnamed ones stay unnamed: the lease keeps them the
 * client's own until its Sync.
 */
function renameForClient(client: Client, type: string, message: Buffer): Buffer {
  const body = message.subarray(5);
  const rename = (name: string) => (name ? client.prefix + name : name);
  switch (type) {
    case 'P': {
      const statement = cString(body, 0);
      if (!statement.text) return message;
      client.statements.add(rename(statement.text));
      return typed('P', Buffer.concat([Buffer.from(`${rename(statement.text)}\0`), body.subarray(statement.next)]));
    }
    case 'B': {
      const portal = cString(body, 0);
      const statement = cString(body, portal.next);
      if (!portal.text && !statement.text) return message;
      return typed('B', Buffer.concat([Buffer.from(`${rename(portal.text)}\0${rename(statement.text)}\0`), body.subarray(statement.next)]));
    }
    case 'D':
    case 'C': {
      const name = cString(body, 1);
      if (!name.text) return message;
      if (type === 'C' && body[0] === 'S'.charCodeAt(0)) client.statements.delete(rename(name.text));
      return typed(type, Buffer.concat([body.subarray(0, 1), Buffer.from(`${rename(name.text)}\0`), body.subarray(name.next)]));
    }
    case 'E': {
      const portal = cString(body, 0);
      if (!portal.text) return message;
      return typed('E', Buffer.concat([Buffer.from(`${rename(portal.text)}\0`), body.subarray(portal.next)]));
    }
    default:
      return message;
  }
}

/** Remembers the channels a client LISTENs to (and forgets those it UNLISTENs), from its SQL. */
function noteListens(client: Client, type: string, message: Buffer): void {
  let sql: string | undefined;
  if (type === 'Q') sql = cString(message, 5).text;
  else if (type === 'P') sql = cString(message, cString(message, 5).next).text;
  if (!sql || !/listen/i.test(sql)) return;
  for (const match of sql.matchAll(/\b(UN)?LISTEN\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*|\*)/gi)) {
    const raw = match[2]!;
    const channel = raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw.toLowerCase();
    if (!match[1]) client.listens.add(channel);
    else if (channel === '*') client.listens.clear();
    else client.listens.delete(channel);
  }
}
