import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';

/** An option of one command, as `node:util` parseArgs takes it, with its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The value's placeholder in help (`N`, `'{…}'`). */
  value?: string;
  help: string;
}

export interface CommandSpec<Run> {
  name: string;
  /** The positional arguments, for help (`<task>`, `<id>`). */
  args: string;
  summary: string;
  /** Extra help text after the options. */
  details?: string;
  options: Record<string, OptionSpec>;
  run: Run;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'URL', help: 'the API (default: $JOBGRAPH_URL or http://localhost:4000/graphql)' },
  token: { type: 'string', value: 'TOKEN', help: 'sent as Authorization: Bearer (default: $JOBGRAPH_TOKEN)' },
  json: { type: 'boolean', help: 'print JSON on stdout, for scripts' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

function toParseOptions(specs: Record<string, OptionSpec>): ParseOptions {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) },
    ]),
  ) as ParseOptions;
}

/**
 * The command name: the first positional, with global options allowed before it
 * (`jobgraph --url … jobs`). Parsed leniently with every option known, so an option's value is
 * never taken for the command.
 */
export function commandName(argv: readonly string[], allOptions: Record<string, OptionSpec>): string | undefined {
  const { positionals } = parseArgs({ args: [...argv], options: toParseOptions(allOptions), strict: false, allowPositionals: true });
  return positionals[0];
}

/** Parses the arguments of one command strictly: an unknown option or a missing value is a UsageError. */
export function parseCommand(argv: readonly string[], spec: CommandSpec<unknown>): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: toParseOptions({ ...GLOBAL_OPTIONS, ...spec.options }),
      strict: true,
      allowPositionals: true,
    });
    const index = positionals.indexOf(spec.name);
    return { values: values as Parsed['values'], positionals: positionals.filter((_, i) => i !== index) };
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(error.message.replace(/\s*\n\s*/g, ' '), spec.name);
    }
    throw error;
  }
}

/** An integer option within bounds, or undefined when absent. */
export function intOption(parsed: Parsed, name: string, min: number, max: number, command: string): number | undefined {
  const raw = parsed.values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${String(raw)}"`, command);
  }
  return value;
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const raw = parsed.values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** Exactly `names.length` positionals, or a UsageError naming what is missing or extra. */
export function positionals(parsed: Parsed, names: readonly string[], command: string): string[] {
  const given = parsed.positionals;
  if (given.length < names.length) throw new UsageError(`${command} needs ${names.slice(given.length).map((name) => `<${name}>`).join(' ')}`, command);
  if (given.length > names.length) throw new UsageError(`${command} takes ${names.length ? names.map((n) => `<${n}>`).join(' ') : 'no arguments'}; unexpected "${given[names.length]}"`, command);
  return given;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.help] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`);
}

export function commandHelp(spec: CommandSpec<unknown>): string {
  const lines = [`Usage: jobgraph ${spec.name}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary];
  if (Object.keys(spec.options).length) lines.push('', 'Options:', ...optionLines(spec.options));
  if (spec.details) lines.push('', spec.details);
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  return `${lines.join('\n')}\n`;
}

export function mainHelp(commands: readonly CommandSpec<unknown>[]): string {
  const width = Math.max(...commands.map((c) => `${c.name} ${c.args}`.length));
  return `${[
    'Usage: jobgraph <command> [options]',
    '',
    'The command line client of the jobgraph API (GraphQL over HTTP; watching over SSE).',
    '',
    'Commands:',
    ...commands.map((c) => `  ${`${c.name} ${c.args}`.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit status: 0 ok; 1 the watched job FAILED or was CANCELLED; 2 usage error; 3 the API could not be',
    'reached, refused the token or refused the request. `jobgraph <command> --help` for more.',
  ].join('\n')}\n`;
}
