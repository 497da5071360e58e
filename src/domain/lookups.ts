/**
 * A report or dataset by id, or null when none has it. Not found is the query's answer: an id that
 * is not even a uuid names nothing (the database would refuse it, so it is not asked), and any
 * error of the database itself (down, cut, restarting) is thrown as it is, never taken for "not
 * found" (which would fail a job for good, or answer BAD_USER_INPUT while the ledger is away).
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { isUuid } from '../lib/uuid.ts';

export async function findReport(db: PrismaClient, id: string) {
  return isUuid(id) ? db.report.findUnique({ where: { id } }) : null;
}

export async function findDataset(db: PrismaClient, id: string) {
  return isUuid(id) ? db.dataset.findUnique({ where: { id } }) : null;
}
