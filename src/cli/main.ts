/**
 * `jobgraph`, the command line client of the API (bin/jobgraph.mjs runs this file). It speaks
 * GraphQL over HTTP and SSE only, and imports nothing of the server.
 *
 *   jobgraph <command> [options]      commands.ts: every command's options and help;
 *                                     job-commands.ts: enqueue, jobs, watch, cancel, retry, tasks;
 *                                     run-command.ts: run start|watch|show|list|approve|reject|retry|rerun|cancel;
 *                                     schedule-command.ts: schedules list|show|create|pause|resume|delete
 *
 * It starts in a few tens of ms more than an empty Node (bench/cli-start.ts): this file loads the
 * command table only, a command loads its own module when it runs, none loads zod or graphql, and
 * cli-progress loads only to draw a bar on a terminal (test/cli/start.test.ts).
 *
 * Exit status: errors.ts (EXIT). Every expected failure is one line on stderr, without a stack;
 * set JOBGRAPH_DEBUG=1 to see the stack of an unexpected one.
 */
import { commandHelp, commandName, GLOBAL_OPTIONS, mainHelp, parseCommand, stringOption, type OptionSpec } from './args.ts';
import { COMMANDS, type Context } from './commands.ts';
import { CliError, EXIT, UsageError } from './errors.ts';

const DEFAULT_URL = 'http://localhost:4000/graphql';

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const allOptions: Record<string, OptionSpec> = Object.assign({}, GLOBAL_OPTIONS, ...COMMANDS.map((command) => command.options));
  let name: string | undefined;
  try {
    name = commandName(argv, allOptions);
    if (name === undefined || name === 'help') {
      const topic = name === 'help' ? commandName(argv.slice(argv.indexOf('help') + 1), allOptions) : undefined;
      const command = COMMANDS.find((c) => c.name === topic);
      if (topic && !command) throw new UsageError(`unknown command "${topic}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
      const asked = name === 'help' || argv.includes('--help') || argv.includes('-h');
      (asked ? process.stdout : process.stderr).write(command ? commandHelp(command) : mainHelp(COMMANDS));
      return asked ? EXIT.ok : EXIT.usage;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const parsed = parseCommand(argv, command);
    const given = stringOption(parsed, 'url');
    const url = apiUrl(given ?? env.JOBGRAPH_URL ?? DEFAULT_URL, given !== undefined || !env.JOBGRAPH_URL ? '--url' : 'JOBGRAPH_URL');
    const token = stringOption(parsed, 'token') ?? (env.JOBGRAPH_TOKEN || undefined);
    const { ApiClient } = await import('./api.ts');
    const ctx: Context = {
      api: new ApiClient(url, token),
      json: parsed.values.json === true,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      progressStream: process.stderr,
    };
    return await command.run(ctx, parsed);
  } catch (error) {
    if (error instanceof CliError) {
      const hint = error instanceof UsageError ? ` (see \`jobgraph ${error.command ?? ''}${error.command ? ' ' : ''}--help\`)` : '';
      process.stderr.write(`jobgraph: ${error.message}${hint}\n`);
      return error.exitCode;
    }
    process.stderr.write(`jobgraph: unexpected error: ${error instanceof Error ? error.message : String(error)}${env.JOBGRAPH_DEBUG ? `\n${(error as Error).stack}` : ' (JOBGRAPH_DEBUG=1 shows where)'}\n`);
    return EXIT.api;
  }
}

/** The GraphQL endpoint: --url as given, with /graphql added to a bare origin (`http://host:4000`). */
function apiUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from} "${raw}" is not a URL (e.g. http://localhost:4000/graphql)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${from} "${raw}" must be http:// or https://`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

const code = await run(process.argv.slice(2));
// Writes to pipes and terminals are synchronous on Linux and macOS, so nothing is lost; exiting
// here also ends the keep-alive sockets and any subscription still open (cancel's wait).
process.exit(code);
