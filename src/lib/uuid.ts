const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a uuid in its text form: anything else names no row (and PostgreSQL would refuse it). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
