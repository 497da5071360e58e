// `npm install` runs this last (postinstall): builds the dashboard (`npm run build`, into
// dist/dashboard), so that `npm start` serves it from its first start. An install without
// devDependencies (a production image, whose build stage built it) has no vite: it says so and
// goes on. A failed build fails the install with the build's own output.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
try {
  createRequire(import.meta.url).resolve('vite');
} catch {
  process.stdout.write('jobgraph: vite is not installed (no devDependencies): the dashboard is not built here\n');
  process.exit(0);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const result = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.error) {
  process.stderr.write(`Could not run npm run build: ${result.error.message}\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
