import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard (src/dashboard, built by `npm run build` into dist/dashboard) at /dashboard and
 * /dashboard/*: files of the build with their content types, index.html for the app's own routes
 * (/dashboard/jobs/<id> …), a 503 page saying how to build it when it is not built. Paths are
 * resolved inside the build folder and nothing outside it is ever read.
 */
export const DASHBOARD_PATH = '/dashboard';

const DEFAULT_DIR = fileURLToPath(new URL('../../dist/dashboard', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * What the page may load: its own files and its own API (HTTP and WebSocket, which 'self'
 * covers); styles set from script (progress bar widths) are not inline style attributes.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jobgraph: dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>The dashboard is not built: run <code>npm run build</code> (it writes <code>dist/dashboard</code>), then reload this page.
<code>npm start</code> builds it when it is missing.</p>
<p>The GraphQL API itself is up at <a href="/graphql">/graphql</a>.</p>
</body></html>
`;

export interface DashboardOptions {
  /** The built dashboard; default dist/dashboard at the repo root. */
  dir?: string;
}

/**
 * A request handler for the dashboard: resolves true when it answered the request (its path is
 * /dashboard or under it), false otherwise, so the caller passes the request on.
 */
export function createDashboardHandler(options: DashboardOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const root = resolve(options.dir ?? DEFAULT_DIR);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const pathname = (req.url ?? '/').split('?')[0]!.split('#')[0]!;
    if (pathname !== DASHBOARD_PATH && !pathname.startsWith(`${DASHBOARD_PATH}/`)) return false;

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return true;
    }

    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(DASHBOARD_PATH.length + 1));
    } catch {
      return plain(res, 400, 'Bad request: the path is not valid percent-encoding\n');
    }
    // Inside the build folder or nothing: `..`, absolute paths, backslashes and NUL bytes are refused.
    const file = resolve(root, `.${sep}${relative}`);
    if (relative.includes('\0') || relative.includes('\\') || (file !== root && !file.startsWith(`${root}${sep}`))) {
      return plain(res, 404, 'Not found\n');
    }

    if (relative && (await isFile(file))) {
      await send(req, res, file, relative.startsWith('assets/'));
      return true;
    }
    // A path with an extension names a file (a missing asset is a 404); anything else is a route of
    // the app, which its index.html handles.
    if (extname(relative)) return plain(res, 404, 'Not found\n');
    const index = resolve(root, 'index.html');
    if (!(await isFile(index))) {
      res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '30' });
      res.end(req.method === 'HEAD' ? undefined : NOT_BUILT);
      return true;
    }
    await send(req, res, index, false);
    return true;
  };

  return async (req, res) => {
    try {
      return await handle(req, res);
    } catch (error) {
      // A file that vanished between stat and read (a rebuild): say so rather than hang.
      if (!res.headersSent) plain(res, 500, `The dashboard could not be read: ${(error as Error).message}\n`);
      else res.destroy();
      return true;
    }
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Sends a file; hashed assets are cached for good, index.html is checked every time (ETag). */
async function send(req: IncomingMessage, res: ServerResponse, file: string, immutable: boolean): Promise<void> {
  const info = await stat(file);
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  if (extname(file) === '.html') {
    headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
    headers['x-frame-options'] = 'DENY';
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  headers['content-length'] = info.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(createReadStream(file), res).catch(() => {
    // The client went away mid-file: nothing to answer.
  });
}

function plain(res: ServerResponse, status: number, body: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(body);
  return true;
}
