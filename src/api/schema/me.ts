import { requireViewer, type Viewer } from '../auth.ts';
import { builder } from './builder.ts';

const RoleEnum = builder.enumType('Role', { values: ['viewer', 'operator', 'approver', 'admin'] as const });

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The caller, from its token (the local admin when API_TOKENS is unset).',
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.field({ type: RoleEnum, description: 'viewer reads; operator also enqueues, cancels and retries; admin sees every job.', resolve: (v) => v.role }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: ViewerRef,
    description: 'Who the API takes the caller for: what a client shows and hides by.',
    resolve: (_, __, ctx) => requireViewer(ctx.viewer),
  }),
}));
