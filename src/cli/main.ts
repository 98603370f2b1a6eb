#!/usr/bin/env node
/**
 * The `mdlin` command. Every subcommand has --help; bad input gets one line naming the problem
 * and exit status 2 (see each command for the other statuses).
 */
import { Command, type CommanderError } from 'commander';
import { addBenchCommand } from './bench.js';
import { addClusterCommand } from './cluster.js';
import { addDemoCommand } from './demo.js';
import { addKvCommand, addStatusCommand } from './kv.js';
import { addMasterCommand, addReplicaCommand } from './servers.js';
import { EXIT_USAGE } from './util.js';
import { addCheckCommand } from '../check/cli.js';
import { addTortureCommand } from '../torture/command.js';

function buildProgram(): Command {
  const program = new Command('mdlin')
    .description('a sharded, replicated key-value store (Multi-Paxos, MDL)')
    .exitOverride((err: CommanderError) => {
      // Help and --version exit 0; every usage error 2.
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    })
    .showSuggestionAfterError(true);
  addMasterCommand(program);
  addReplicaCommand(program);
  addClusterCommand(program);
  addKvCommand(program);
  addStatusCommand(program);
  addDemoCommand(program);
  addBenchCommand(program);
  addTortureCommand(program);
  addCheckCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
