// The list of `gpt2ts` commands, in help order. Each lives in its own module.
import type { Command } from './common.ts';
import { convertCommand } from './convert.ts';
import { embedCommand } from './embed.ts';
import { generateCommand } from './generate.ts';
import { inspectCommand } from './inspect.ts';
import { pullCommand } from './pull.ts';
import { tokenizeCommand } from './tokenize.ts';
import { trainCommand } from './train.ts';
import { traceCommand } from './trace.ts';

export const commands: Command[] = [generateCommand, tokenizeCommand, embedCommand, trainCommand, traceCommand, inspectCommand, convertCommand, pullCommand];
