import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { TASKS, type TaskInfo, type TasksData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

/** The registered tasks (`tasks`), read once per token. */
export function useTasks(): { tasks: TaskInfo[] | null; error: ApiError | null } {
  const { session } = useApiState();
  const [state, setState] = useState<{ tasks: TaskInfo[] | null; error: ApiError | null }>({ tasks: null, error: null });
  useEffect(() => {
    let current = true;
    api.request<TasksData>(TASKS).then(
      (data) => current && setState({ tasks: [...data.tasks].sort((a, b) => a.name.localeCompare(b.name)), error: null }),
      (error: ApiError) => current && setState({ tasks: null, error }),
    );
    return () => {
      current = false;
    };
  }, [session]);
  return state;
}
