import { GraphQLError } from 'graphql';
import type { Job } from '../jobs/ledger/index.ts';

/**
 * Who is calling, from a bearer token. API_TOKENS lists `name:token:role`; without it the API runs
 * open and every caller is the local admin (single-user development).
 *
 * viewer:   read and subscribe to their own jobs and runs
 * operator: also enqueue, cancel and retry their own jobs; start, retry and cancel their own runs
 * approver: sees every run, and approves or rejects sign-off gates of runs someone else started
 *           (segregation of duties: who ran the work does not sign it off)
 * admin:    everything, every job and run
 */
export type Role = 'viewer' | 'operator' | 'approver' | 'admin';
const ROLES: readonly Role[] = ['viewer', 'operator', 'approver', 'admin'];

export interface Viewer {
  name: string;
  role: Role;
}

const OPEN_ACCESS_USER: Viewer = { name: 'local', role: 'admin' };

export class TokenBook {
  readonly #byToken = new Map<string, Viewer>();

  constructor(spec: string | undefined) {
    for (const entry of spec?.split(',') ?? []) {
      const [name, token, role] = entry.trim().split(':') as [string, string, Role];
      if (!ROLES.includes(role)) throw new Error(`API_TOKENS: "${name}" has the role "${role}"; a role is one of ${ROLES.join(', ')}`);
      if (this.#byToken.has(token)) throw new Error(`API_TOKENS: the token of "${name}" is used twice`);
      this.#byToken.set(token, { name, role });
    }
  }

  get open(): boolean {
    return this.#byToken.size === 0;
  }

  /**
   * The caller for an Authorization header value (or a bare token, as WebSocket connectionParams
   * may carry it). Undefined = anonymous; a token that is not known is an error, not anonymous.
   */
  identify(authorization: string | null | undefined): Viewer | undefined {
    if (this.open) return OPEN_ACCESS_USER;
    if (!authorization) return undefined;
    const token = authorization.replace(/^Bearer\s+/i, '').trim();
    const viewer = this.#byToken.get(token);
    if (!viewer) throw unauthenticated('The token is not valid');
    return viewer;
  }
}

function unauthenticated(message = 'Sign in with an Authorization: Bearer token'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
}

export function requireViewer(viewer: Viewer | undefined): Viewer {
  if (!viewer) throw unauthenticated();
  return viewer;
}

export function requireRole(viewer: Viewer | undefined, role: Exclude<Role, 'viewer'>): Viewer {
  const who = requireViewer(viewer);
  if (role === 'operator' && (who.role === 'viewer' || who.role === 'approver')) {
    throw forbidden(`A ${who.role} cannot change jobs or runs; an operator token is needed`);
  }
  if (role === 'approver' && who.role !== 'approver' && who.role !== 'admin') throw forbidden('Sign-off needs an approver token');
  if (role === 'admin' && who.role !== 'admin') throw forbidden('This needs an admin token');
  return who;
}

/** Whether `viewer` may see a run: admins and approvers see all, others their own. */
export function canSeeRun(viewer: Viewer, run: { createdBy: string | null }): boolean {
  return viewer.role === 'admin' || viewer.role === 'approver' || run.createdBy === viewer.name;
}

/** Whether `viewer` may see `job`: admins see all, others their own. */
export function canSee(viewer: Viewer, job: Pick<Job, 'createdBy'>): boolean {
  return viewer.role === 'admin' || job.createdBy === viewer.name;
}

/** The `createdBy` filter for listing jobs: none for admins. */
export function ownerFilter(viewer: Viewer): string | undefined {
  return viewer.role === 'admin' ? undefined : viewer.name;
}
