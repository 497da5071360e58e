import { connect } from 'node:net';

/**
 * Whether anything listens at a service URL's host and port: undefined when it accepted a
 * connection (or did not say no within `timeoutMs`: slow is not absent), else why not
 * (ECONNREFUSED, ENOTFOUND…). Cheap enough to ask before loading the service's client library.
 */
export function tcpRefusal(url: string, defaultPort: number, timeoutMs = 500): Promise<string | undefined> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    port = Number(parsed.port || defaultPort);
  } catch {
    return Promise.resolve(undefined); // the client's own error is clearer
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(`nothing answers at ${host}:${port} (${error.code ?? error.message})`));
  });
}
