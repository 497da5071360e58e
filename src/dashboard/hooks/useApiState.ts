import { useEffect, useState } from 'preact/hooks';
import { api, type ApiState } from '../api/client.ts';

/** The client's state (token needed, live connection, reconnects), re-rendering on change. */
export function useApiState(): ApiState {
  const [state, setState] = useState(api.state);
  useEffect(() => {
    setState(api.state);
    return api.onState(setState);
  }, []);
  return state;
}
