/**
 * How the ledger's connections name themselves to the server (application_name, in
 * pg_stat_activity): a process that runs no worker (an API), and one that does.
 */
export const API_APPLICATION_NAME = 'jobgraph-api';
export const WORKER_APPLICATION_NAME = 'jobgraph-worker';
