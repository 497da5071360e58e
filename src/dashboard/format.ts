/** Display helpers shared by the components. */

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const formatClock = (at: string | number) => clock.format(new Date(at));
export const formatDateTime = (at: string | number) => dateTime.format(new Date(at));

/** "850 ms", "12 s", "4 min", "3 h", "2 d". */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1_000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** "12 s ago" relative to `now`. */
export const formatAge = (at: string, now: number) => `${formatDuration(Math.max(0, now - Date.parse(at)))} ago`;

/** The last 8 hex digits: a job id is a UUIDv7, whose first digits are its creation time and so shared by the jobs of the same minute. */
export const shortId = (id: string) => id.slice(-8);

export const json = (value: unknown) => JSON.stringify(value, null, 2);
