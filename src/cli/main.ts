#!/usr/bin/env node
// The `gpt2ts` command line: dispatch to one command module per verb; turn errors into one line
// on stderr and an exit code (0 ok, 2 usage, 1 anything else). `--debug` shows stack traces.

import { type CliIO, type Command, UsageError } from './common.ts';
import { commands } from './commands.ts';

const VERSION = '0.1.0';

function topHelp(): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n');
  return `gpt2ts ${VERSION}: a GPT-2 engine in TypeScript (CPU and WebGPU)

Usage: gpt2ts <command> [options]

Commands:
${rows}

Run \`gpt2ts <command> --help\` for a command's options. Global: --debug (stack traces), --version.
`;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(topHelp());
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === '-V') {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    const cmd: Command | undefined = commands.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(cmd.help.endsWith('\n') ? cmd.help : cmd.help + '\n');
      return 0;
    }
    const code = await cmd.run(rest, io);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    const usage = e instanceof UsageError;
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr.write(`gpt2ts: ${oneLine(msg)}${usage ? ' (see --help)' : ''}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(e.stack + '\n');
    return usage ? 2 : 1;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

const isMain = (() => {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    const here = new URL(import.meta.url).pathname;
    return here === argv1 || here.replace(/\.(ts|js)$/, '') === argv1.replace(/\.(ts|js)$/, '') || argv1.endsWith('/gpt2ts');
  } catch {
    return false;
  }
})();

if (isMain) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // a closed pipe (`gpt2ts ... | head`) is not an error
    if (e.code === 'EPIPE') process.exit(0);
  });
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
  });
  process.exitCode = code;
}
