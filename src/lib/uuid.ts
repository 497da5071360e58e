import { randomBytes } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a uuid in its text form: anything else names no row (and PostgreSQL would refuse it). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562): the time in ms in its first 48 bits, random bits after. Rows keyed by it
 * are inserted at the right edge of their B-tree, so the pages an insert touches stay the same few
 * however large the table grows; random (v4) keys touch a random page of the whole index each time.
 * Within one process they also sort in the order they were made: the 12 bits after the version
 * count up within a millisecond (RFC 9562 §6.2, method 1), so jobs enqueued together keep their order.
 */
export function timeOrderedUuid(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMs++;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8); // version 7, then the sequence
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
