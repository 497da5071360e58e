/** A report or dataset by id, or null: an id that is not even a uuid names nothing either (the database would refuse it). */
import type { PrismaClient } from '../generated/prisma/client.ts';

export function findReport(db: PrismaClient, id: string) {
  return db.report.findUnique({ where: { id } }).catch(() => null);
}

export function findDataset(db: PrismaClient, id: string) {
  return db.dataset.findUnique({ where: { id } }).catch(() => null);
}
