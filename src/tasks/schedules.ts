import type { ScheduleDefinition } from '../jobs/schedules/definition.ts';

/**
 * The application's schedules in code, written to the ledger at every start by name (a pause made
 * over the API survives a restart; one removed here is removed there). The app ships none: a
 * deployment's recurring work depends on its reports and datasets, so it is made at run time
 * (`createSchedule`, `jobgraph schedules create`, the dashboard). One in code reads:
 *
 *   defineSchedule({ name: 'nightly-profile', task: 'profiling.profileDataset',
 *                    input: { datasetId: '…' }, cron: '30 2 * * *', timezone: 'America/New_York' })
 */
export const appSchedules: readonly ScheduleDefinition[] = [];
