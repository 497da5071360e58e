/**
 * PGliteServer: one PGlite session shared by many node-postgres clients, as `npm start`'s ledger
 * process serves it to its API and worker. Each test puts a failure where the module's comment
 * says it cannot be.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PGliteServer } from '../../src/db/pglite-server.ts';

describe('PGliteServer', () => {
  let db: PGlite;
  let server: PGliteServer;
  let url: string;
  const opened: { end(): Promise<void> }[] = [];

  beforeEach(async () => {
    db = await PGlite.create('memory://');
    server = new PGliteServer({ db });
    url = `postgres://postgres@127.0.0.1:${await server.listen()}/postgres`;
  });
  afterEach(async () => {
    for (const client of opened.splice(0)) await client.end().catch(() => {});
    await server.close();
    await db.close();
  });

  const pool = (max = 10) => {
    const p = new pg.Pool({ connectionString: url, max });
    opened.push(p);
    return p;
  };
  const client = async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    await c.connect();
    opened.push(c);
    return c;
  };

  it("keeps each client's transaction its own while others run statements in between", async () => {
    const shared = pool(10);
    await shared.query('CREATE TABLE t (id int PRIMARY KEY, v int)');
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const c = await shared.connect();
        try {
          await c.query('BEGIN');
          await c.query('INSERT INTO t VALUES ($1, $2)', [i, i]);
          await new Promise((resolve) => setTimeout(resolve, 1)); // others queue meanwhile
          await c.query('UPDATE t SET v = v + $2 WHERE id = $1', [i, 1]);
          await c.query(i % 10 === 0 ? 'ROLLBACK' : 'COMMIT');
        } finally {
          c.release();
        }
      }),
    );
    const { rows } = await shared.query<{ n: number; wrong: number }>('SELECT count(*)::int AS n, count(*) FILTER (WHERE v <> id + 1)::int AS wrong FROM t');
    expect(rows[0]).toEqual({ n: 90, wrong: 0 });
  });

  it('lets two clients prepare statements of the same name, each getting its own', async () => {
    const [a, b] = [await client(), await client()];
    const ask = (c: pg.Client, sql: string) => c.query({ name: 'claim', text: sql, values: [] });
    expect((await ask(a, 'SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
    expect((await ask(b, "SELECT 'b' AS y")).rows).toEqual([{ y: 'b' }]);
    expect((await ask(a, 'SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
    // A client that leaves takes its statements with it.
    await b.end();
    opened.splice(opened.indexOf(b), 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { rows } = await a.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual([expect.stringMatching(/_claim$/)]);
  });

  it('rolls back what a client that died mid-transaction left, and lets the others on', async () => {
    const shared = pool(2);
    await shared.query('CREATE TABLE t (id int)');
    const dying = await client();
    await dying.query('BEGIN');
    await dying.query('INSERT INTO t VALUES (1)');
    const waiting = shared.query('INSERT INTO t VALUES (2)'); // waits for the session
    (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await waiting;
    expect((await shared.query('SELECT id FROM t ORDER BY id')).rows).toEqual([{ id: 2 }]);
  });

  it('answers an error inside an extended-protocol batch and goes on', async () => {
    const shared = pool(2);
    await expect(shared.query('SELECT $1::int', ['not a number'])).rejects.toThrow(/invalid input syntax/);
    expect((await shared.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('sends a notification to every client listening to its channel, and only to them', async () => {
    const [a, b, other] = [await client(), await client(), await client()];
    const heard: string[] = [];
    for (const [name, c] of [['a', a], ['b', b], ['other', other]] as const) c.on('notification', (n) => heard.push(`${name}:${n.channel}:${n.payload}`));
    await a.query('LISTEN "Jobs.Changes"');
    await b.query('LISTEN "Jobs.Changes"');
    await other.query('LISTEN other');
    const notifier = pool(1);
    await notifier.query(`SELECT pg_notify('Jobs.Changes', 'one')`);
    // One client's UNLISTEN does not end the channel for the other (the session is one).
    await b.query('UNLISTEN "Jobs.Changes"');
    await notifier.query(`SELECT pg_notify('Jobs.Changes', 'two')`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard.sort()).toEqual(['a:Jobs.Changes:one', 'a:Jobs.Changes:two', 'b:Jobs.Changes:one']);
  });

  it('lets a client whose startup says it is ahead go before clients already waiting', async () => {
    await server.close();
    server = new PGliteServer({ db, ahead: (params) => params.application_name === 'api' });
    const port = await server.listen();
    const worker = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, max: 5, application_name: 'worker' });
    const api = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, application_name: 'api' });
    opened.push(worker, api);
    await api.connect();
    await worker.query('SELECT 1'); // connections open
    const order: string[] = [];
    const holder = await worker.connect();
    await holder.query('BEGIN'); // holds the session
    const queued = [1, 2, 3].map((i) => worker.query('SELECT $1::int AS i', [i]).then(() => order.push(`worker ${i}`)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const apiRead = api.query('SELECT 1').then(() => order.push('api'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await holder.query('COMMIT');
    holder.release();
    await Promise.all([...queued, apiRead]);
    expect(order[0]).toBe('api');
  });
});
