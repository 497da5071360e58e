import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { ME, type MeData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

export interface ViewerState {
  /** Who the API takes us for; null while loading or when the API does not say (no `me` field). */
  me: MeData['me'] | null;
  /** Whether to show enqueue, cancel and retry: known from `me`, else until a mutation is FORBIDDEN. */
  canOperate: boolean;
  /** Whether to show Approve and Reject on sign-off gates (approvers and admins). */
  canApprove: boolean;
}

/** Asks the API who we are (`me { name role }`) once per token. */
export function useViewerQuery(): ViewerState {
  const { forbidden, session } = useApiState();
  const [state, setState] = useState<{ status: 'loading' | 'unknown' } | { status: 'known'; me: MeData['me'] }>({ status: 'loading' });
  useEffect(() => {
    let current = true;
    setState({ status: 'loading' });
    api.request<MeData>(ME).then(
      (data) => current && setState({ status: 'known', me: data.me }),
      () => current && setState({ status: 'unknown' }),
    );
    return () => {
      current = false;
    };
  }, [session]);
  switch (state.status) {
    case 'loading':
      return { me: null, canOperate: false, canApprove: false };
    case 'unknown':
      return { me: null, canOperate: !forbidden, canApprove: !forbidden };
    case 'known':
      return {
        me: state.me,
        canOperate: (state.me.role === 'operator' || state.me.role === 'admin') && !forbidden,
        canApprove: state.me.role === 'approver' || state.me.role === 'admin',
      };
    default: {
      const never: never = state;
      return never;
    }
  }
}

export const ViewerContext = createContext<ViewerState>({ me: null, canOperate: false, canApprove: false });

/** The caller and what it may do, from the app's one `useViewerQuery`. */
export const useViewer = () => useContext(ViewerContext);
