import { useEffect, useState } from 'preact/hooks';

/**
 * The app's routes live under Vite's base (/dashboard/): `path` is the part after it ("/",
 * "/jobs", "/jobs/<id>", "/enqueue"). The API answers every such path with index.html.
 */
const BASE = import.meta.env.BASE_URL.replace(/\/$/, '');
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((listener) => listener());
window.addEventListener('popstate', notify);

export interface Route {
  path: string;
  search: URLSearchParams;
}

function current(): Route {
  const { pathname, search } = location;
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : '/';
  return { path: path.length > 1 ? path.replace(/\/$/, '') : path, search: new URLSearchParams(search) };
}

/** The URL of an app path, for links. */
export const href = (to: string) => `${BASE}${to.startsWith('/') ? to : `/${to}`}`;

export function navigate(to: string, { replace = false }: { replace?: boolean } = {}): void {
  history[replace ? 'replaceState' : 'pushState'](null, '', href(to));
  notify();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return route;
}
