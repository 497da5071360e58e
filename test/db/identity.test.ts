import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { LedgerQueries } from '../../src/jobs/ledger/queries.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

/** A new ledger's identity is made by whichever process asks first; processes asking at once all get it. */
describe("a new ledger's identity, asked for by several connections at once", () => {
  let database: TestDatabase;
  let db: LedgerDb;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = await openLedger({ databaseUrl: database.url, migrate: false, poolMax: 10 });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('answers every one of them with the same id, never "no identity row"', async () => {
    const queries = new LedgerQueries(db);
    for (let round = 0; round < 30; round++) {
      await db.query('DELETE FROM "LedgerIdentity"');
      const ids = await Promise.all(Array.from({ length: 8 }, () => queries.identity()));
      expect(new Set(ids).size).toBe(1);
    }
  });
});
