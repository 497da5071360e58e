// `npm start` runs this first (prestart): builds the dashboard (`npm run build`, into
// dist/dashboard) when dist/dashboard/index.html is missing, and does nothing when it is there.
// A failed build stops the start with the build's own output and exit code.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const index = fileURLToPath(new URL('../dist/dashboard/index.html', import.meta.url));

if (!existsSync(index)) {
  process.stdout.write('The dashboard is not built yet: npm run build\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) {
    process.stderr.write(`Could not run npm run build: ${result.error.message}\n`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
