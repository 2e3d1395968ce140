#!/usr/bin/env node
// First: hands kafkajs the relay's faster produce path before anything loads kafkajs.
import './kafka/fast-path/install';
import { parseCli, version, type CliIo } from './commands/args';

/** The `outbox-relay` command: parses the arguments and runs the command (see commands/). */
async function main(): Promise<void> {
  const io: CliIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
  const action = parseCli(process.argv.slice(2), io);
  if (action.kind === 'exit') {
    process.exitCode = action.code;
    return;
  }
  if (action.kind === 'start') {
    const { startRelay } = await import('./commands/start');
    const code = await startRelay(process.env, version());
    // Everything was closed and logged (stdout is synchronous for files and pipes on Linux); a
    // client library's stray timer or socket must not keep a stopped relay alive.
    process.exit(code);
  }
  const { runCommand } = await import('./commands/run');
  process.exitCode = await runCommand(action, process.env, io);
}

if (require.main === module) void main();
