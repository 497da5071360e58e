import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { parsePeriod } from './lib/duration.ts';
import { parseLimitsSetting } from './lib/limits-setting.ts';
import { LOG_FORMATS } from './lib/logger.ts';
import { BACKEND_NAMES } from './adapters/backends.ts';

/**
 * Every environment variable jobgraph reads, validated once. An invalid value stops startup with
 * an error that names the variable and what it accepts; nothing falls back silently.
 */
const intFrom = (min: number) => z.coerce.number().int().min(min);
/** A period in ms ('7d', '12h', 'forever' → Infinity). */
const period = z.string().transform((text, ctx) => {
  try {
    return parsePeriod(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const booleanString = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const configSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /**
   * Set by `npm start` for the worker it supervises, not by hand: the loopback URL of the embedded
   * PostgreSQL it started (DATABASE_URL unset). A worker started by hand finds it in EMBEDDED_DIR.
   */
  EMBEDDED_LEDGER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /**
   * DATABASE_URL unset: the folder of the embedded PostgreSQL that `npm start` runs (its cluster,
   * its password, its log); every process of this folder finds the server there.
   */
  EMBEDDED_DIR: z.string().min(1).default('./.jobgraph'),
  /** The embedded server's port on 127.0.0.1. Unset: the one it had last time in EMBEDDED_DIR, or a free one. */
  EMBEDDED_PORT: intFrom(1).max(65_535).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  /** `auto`, or one row of src/adapters/backends.ts. */
  QUEUE_BACKEND: z.enum(['auto', ...BACKEND_NAMES]).default('auto'),
  /** RabbitMQ (QUEUE_BACKEND=rabbitmq): chosen explicitly, never by auto. */
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .default('amqp://127.0.0.1:5672'),
  /** Queue name (BullMQ) / pg-boss queue, and Redis key prefix: lets several deployments share services. */
  QUEUE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only')
    .default('jobgraph'),
  /** Schema pg-boss keeps its tables in. */
  PGBOSS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier')
    .default('pgboss'),
  EVENT_BUS: z.enum(['auto', 'redis', 'postgres', 'memory']).default('auto'),
  WORKER_CONCURRENCY: intFrom(1).max(1000).default(10),
  WORKER_IN_PROCESS: booleanString.default(true),
  /**
   * A worker process whose RSS is above this many MiB when one of its jobs has ended takes no new
   * job, lets the running ones finish and exits (0) to be replaced (Celery's
   * worker_max_memory_per_child): `npm start` starts it again at once; elsewhere, your process
   * manager. Unset: never, except under `npm start`, where it is 256 (an idle worker holds ~100–140, a busy one ~200).
   */
  WORKER_MAX_MEMORY_MB: intFrom(64).optional(),
  RETRY_BASE_MS: intFrom(0).default(60_000),
  MAX_ATTEMPTS: intFrom(1).max(100).default(4),
  SHUTDOWN_TIMEOUT_MS: intFrom(0).default(25_000),
  HEARTBEAT_MS: intFrom(100).default(5_000),
  /** A RUNNING job whose heartbeat is older than this has lost its worker. */
  STALE_AFTER_MS: intFrom(500).default(30_000),
  /** How often the dispatcher re-probes backends and sweeps the outbox. */
  DISPATCH_INTERVAL_MS: intFrom(50).default(1_000),
  /**
   * The sweep's bound: a QUEUED job due for this long whose last dispatch is as old is sent to a
   * queue again, whatever the queue was said to hold (a flushed Redis, a lost delivery).
   */
  REDISPATCH_AFTER_MS: intFrom(100).default(30_000),
  /**
   * How long a COMPLETED or CANCELLED job is kept (with its events) after it ended: '7d', '12h', …
   * or 'forever'. The counts and the throughput chart keep it after it is gone (JobTally).
   */
  JOB_RETENTION: period.prefault('7d'),
  /** The same for a FAILED job: longer, as someone may still need to see why it failed. */
  JOB_RETENTION_FAILED: period.prefault('30d'),
  /** How often a worker process looks for jobs past their retention (one process prunes at a time). */
  PRUNE_INTERVAL_MS: intFrom(1_000).default(60_000),
  /** Jobs removed per statement, so pruning never holds many rows or stalls running jobs. */
  PRUNE_BATCH: intFrom(1).max(10_000).default(500),
  /**
   * The run sweep's bound: a live workflow run with a step whose job ended, a step ready to go, a
   * gate past due or nothing live is advanced within this (it is advanced at once when this process
   * ended the job; the sweep covers every other case).
   */
  RUN_SWEEP_INTERVAL_MS: intFrom(50).default(5_000),
  /** Fire schedules from this process (every process may: each tick makes one job however many do). */
  SCHEDULER: booleanString.default(true),
  /** How often a process looks for due schedules at least; it also wakes at the soonest tick. */
  SCHEDULER_POLL_MS: intFrom(50).default(1_000),
  /** A tick fired later than this after its time was missed (see a schedule's catchUp). */
  SCHEDULE_GRACE_MS: intFrom(0).default(60_000),
  /** An OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM); unset: the offline heuristic. */
  LLM_BASE_URL: z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional(),
  LLM_API_KEY: z.string().optional(),
  /** Required with LLM_BASE_URL. */
  LLM_MODEL: z.string().optional(),
  /** LLM calls at once per worker process, across its jobs (the shared limit `llm` bounds the deployment). */
  LLM_CONCURRENCY: intFrom(1).max(1000).default(4),
  /**
   * Shared limits' budgets, for every process of the deployment, over what code declares:
   * `llm:requests=60/1m,tokens=90000/1m,concurrency=8;crm:requests=10/1s` (src/lib/limits-setting.ts).
   */
  LIMITS: z
    .string()
    .transform((text, ctx) => {
      try {
        return parseLimitsSetting(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: pino-pretty's lines when stdout is a terminal, JSON otherwise; `json` or `pretty` force one. */
  LOG_FORMAT: z.enum(LOG_FORMATS).default('auto'),
  PORT: intFrom(0).max(65_535).default(4000),
  /**
   * The address the API listens on. Unset: 127.0.0.1 without API_TOKENS, every IPv4 interface
   * (0.0.0.0) with them (listenAddress below). Without API_TOKENS only a loopback address,
   * unless API_OPEN=true.
   */
  HOST: z
    .string()
    .regex(/^[^\s/[\]]+$/, 'an IP address or a host name (IPv6 without brackets, e.g. ::)')
    .optional(),
  /** Serve the API without API_TOKENS on a HOST others can reach, on purpose: every caller is the admin. */
  API_OPEN: booleanString.default(false),
  /** `name:token:role` entries, comma-separated; role is viewer, operator or admin. Unset: open API (loopback only, see HOST). */
  API_TOKENS: z
    .string()
    .regex(
      /^\s*[^:,\s]+:[^:,\s]+:(viewer|operator|approver|admin)\s*(,\s*[^:,\s]+:[^:,\s]+:(viewer|operator|approver|admin)\s*)*$/,
      'comma-separated name:token:role entries, role one of viewer, operator, approver, admin',
    )
    .optional(),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset: open, like /health. */
  /** `npm run worker` serves /metrics on this port (workers record the outcomes; the API only what it enqueued). Unset: none. */
  METRICS_PORT: intFrom(0).max(65_535).optional(),
  METRICS_TOKEN: z.string().regex(/^\S+$/, 'one token, without spaces').optional(),
  /** Largest request body the API reads. */
  MAX_BODY_BYTES: intFrom(1_024).default(1_048_576),
  MAX_QUERY_DEPTH: intFrom(2).max(100).default(12),
  MAX_QUERY_COST: intFrom(100).default(5_000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.issues = issues;
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`; empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(configSchema.shape)
      .map((key) => [key, env[key]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = configSchema.safeParse(present);
  if (parsed.success) {
    const contradictions = contradictionsIn(parsed.data);
    if (contradictions.length > 0) throw new ConfigError(contradictions);
    return parsed.data;
  }
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      return `${key}=${JSON.stringify(present[key])}: ${issue.message}`;
    }),
  );
}

/** Settings each valid alone that contradict each other; each message names both. */
function contradictionsIn(config: Config): string[] {
  const found: string[] = [];
  // A worker beats every HEARTBEAT_MS; one that missed a single beat is late, not lost (BullMQ
  // renews its lock at half its duration for the same reason). Below that, reapers take live jobs.
  if (config.STALE_AFTER_MS < 2 * config.HEARTBEAT_MS) {
    found.push(
      `STALE_AFTER_MS=${config.STALE_AFTER_MS} with HEARTBEAT_MS=${config.HEARTBEAT_MS}: STALE_AFTER_MS must be at least twice HEARTBEAT_MS, ` +
        'or every reaper would take jobs whose worker is alive and beating',
    );
  }
  // Without tokens every caller is the admin: that is for this machine only, unless said on purpose.
  const { host, open } = listenAddress(config);
  if (open && !config.API_OPEN) {
    found.push(
      `HOST=${host} with API_TOKENS unset: anyone who reaches ${host} would be the admin; ` +
        'set API_TOKENS (name:token:role entries), keep HOST on a loopback address (127.0.0.1, ::1, localhost), ' +
        'or set API_OPEN=true to serve it open on purpose',
    );
  }
  // API_OPEN=true says "no tokens, on purpose": beside tokens one of the two is a mistake.
  if (config.API_OPEN && config.API_TOKENS) {
    found.push('API_OPEN=true with API_TOKENS set: the API asks for tokens, so it is not open; unset one of them');
  }
  return found;
}

// Where the API listens. Without API_TOKENS every caller is the admin, so an API without tokens
// stays on loopback unless API_OPEN=true says it is open on purpose (contradictionsIn refuses otherwise).

/** HOST unset, API_TOKENS unset: this machine only, like a dev server. */
export const LOOPBACK_HOST = '127.0.0.1';
/**
 * HOST unset, API_TOKENS set: every IPv4 interface. Not `::`: a kernel or container without IPv6
 * refuses to bind it, and Node's own fall-back applies only when no host is given at all; an
 * IPv6 deployment says HOST=::.
 */
export const ALL_INTERFACES_HOST = '0.0.0.0';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * 127.0.0.0/8, ::1 (any spelling, IPv4-mapped included) and `localhost`. Any other name counts as
 * reachable from elsewhere: it is not resolved here, and what it resolves to can change.
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && loopback.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

export interface ListenAddress {
  host: string;
  /** Served without tokens on an interface others can reach: allowed only by API_OPEN=true; worth a warning. */
  open: boolean;
}

/** The API listener's address from HOST and API_TOKENS (API_OPEN is checked by loadConfig). */
export function listenAddress(config: Pick<Config, 'HOST' | 'API_TOKENS'>): ListenAddress {
  const host = config.HOST ?? (config.API_TOKENS ? ALL_INTERFACES_HOST : LOOPBACK_HOST);
  return { host, open: !config.API_TOKENS && !isLoopback(host) };
}

/** The host part of a URL that reaches a listener on `host`, for the log line a newcomer opens. */
export function urlHost(host: string): string {
  if (host === ALL_INTERFACES_HOST || host === '::' || host === LOOPBACK_HOST) return 'localhost';
  return isIP(host) === 6 ? `[${host}]` : host;
}
