// The list of `gpt2ts` commands, in help order. Each lives in its own module.
import type { Command } from './common.ts';

export const commands: Command[] = [];
