import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { chooseLogFormat, parseLogFormat } from '../../src/lib/logger.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const LOGGER = JSON.stringify(fileURLToPath(new URL('../../src/lib/logger.ts', import.meta.url)));

/** A Node process that logs three lines through createLogger, as main.ts would; its stdout. */
const SCRIPT = `
  const { createLogger } = await import(${LOGGER});
  const logger = createLogger('info');
  logger.info('plain line');
  logger.child({ component: 'worker' }).warn({ jobId: 'j-1' }, 'from a component');
  logger.debug('below the level');
`;

async function logs(env: Record<string, string | undefined>, { terminal = false } = {}): Promise<string> {
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, NO_COLOR: '1', ...env }).filter(([, v]) => v !== undefined));
  const node = [process.execPath, '--input-type=module', '-e', SCRIPT];
  // util-linux's script(1) runs the command on a pseudo-terminal of its own: stdout is a TTY there.
  const command = terminal ? ['script', '-qec', node.map(shellQuote).join(' '), '/dev/null'] : node;
  const { stdout } = await run(command[0]!, command.slice(1), { cwd: root, env: childEnv, timeout: 30_000 });
  return stdout.replaceAll('\r\n', '\n');
}

const shellQuote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: number; msg: string; pid: number; component?: string });

describe('log format', () => {
  it('auto: pretty on a terminal, JSON otherwise; json and pretty force one', () => {
    expect(chooseLogFormat('auto', true)).toBe('pretty');
    expect(chooseLogFormat('auto', false)).toBe('json');
    expect(chooseLogFormat('json', true)).toBe('json');
    expect(chooseLogFormat('json', false)).toBe('json');
    expect(chooseLogFormat('pretty', true)).toBe('pretty');
    expect(chooseLogFormat('pretty', false)).toBe('pretty');
  });

  it('LOG_FORMAT unset is auto; a value not allowed is refused, naming the variable', () => {
    expect(parseLogFormat(undefined)).toBe('auto');
    expect(parseLogFormat('pretty')).toBe('pretty');
    expect(() => parseLogFormat('yaml')).toThrow(/LOG_FORMAT must be one of auto, json, pretty; got "yaml"/);
    expect(loadConfig({}).LOG_FORMAT).toBe('auto');
    expect(loadConfig({ LOG_FORMAT: 'json' }).LOG_FORMAT).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT/);
  });

  it('a process whose stdout is a pipe writes JSON lines', async () => {
    const lines = jsonLines(await logs({ LOG_FORMAT: undefined }));
    expect(lines.map((line) => [line.level, line.msg, line.component])).toEqual([
      [30, 'plain line', undefined],
      [40, 'from a component', 'worker'],
    ]);
  });

  it('LOG_FORMAT=pretty writes pino-pretty lines, even to a pipe', async () => {
    const text = await logs({ LOG_FORMAT: 'pretty' });
    expect(() => JSON.parse(text.split('\n')[0]!)).toThrow();
    const lines = text.trim().split('\n');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): plain line$/);
    expect(lines[1]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(\d+\): worker: from a component$/);
    expect(lines[2]).toBe('    jobId: "j-1"');
    expect(text).not.toContain('below the level');
  });

  it('on a terminal, pretty unless LOG_FORMAT=json', async () => {
    const pretty = await logs({ LOG_FORMAT: undefined }, { terminal: true });
    expect(pretty).toMatch(/INFO \(\d+\): plain line\n/);
    expect(pretty).not.toContain('"msg"');
    const json = jsonLines(await logs({ LOG_FORMAT: 'json' }, { terminal: true }));
    expect(json.map((line) => line.msg)).toEqual(['plain line', 'from a component']);
  });
});
