// The list of `gpt2ts` commands, in help order. Each lives in its own module.
import type { Command } from './common.ts';
import { generateCommand } from './generate.ts';
import { inspectCommand } from './inspect.ts';
import { traceCommand } from './trace.ts';

export const commands: Command[] = [generateCommand, traceCommand, inspectCommand];
