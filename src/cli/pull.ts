// `gpt2ts pull`: download a model from the Hugging Face Hub into the cache Python's huggingface_hub uses.

import type { ProgressSink } from '../hub/progress.ts';
import { ProgressBar } from '../hub/progress.ts';
import { pullModel, type PullOptions } from '../hub/pull.ts';
import { type CliIO, type Command, UsageError, bool, parseFlags, write } from './common.ts';

/** Hub options for a CLI run: a progress bar on a TTY, retries and cache fallbacks told on stderr. */
export function hubCliOptions(io: Pick<CliIO, 'stderr' | 'stderrIsTTY'>): PullOptions {
  const progress: ProgressSink | null = io.stderrIsTTY ? new ProgressBar(io.stderr) : null;
  const note = (m: string) => void io.stderr.write(`gpt2ts: ${m}\n`);
  return { progress, warn: note, onRetry: note };
}

export const pullCommand: Command = {
  name: 'pull',
  summary: 'download a model from the Hugging Face Hub into the shared cache',
  help: `Usage: gpt2ts pull OWNER/NAME[@REVISION] [--json]

Downloads config.json, the tokenizer files and the weights (model.safetensors preferred, then
pytorch_model.bin; sharded checkpoints included) of a Hub model, and prints the local folder.
Every model command then takes --model hf:OWNER/NAME[@REVISION] without downloading again.

The cache is the one Python's huggingface_hub uses (models--OWNER--NAME/{blobs,snapshots,refs}),
so a model downloaded by either tool is found by the other. Downloads resume after an interruption,
are checked against the Hub's sha256 and retried on server and network errors.

Environment:
  HF_HUB_CACHE / HF_HOME   the cache folder ($HF_HUB_CACHE, else $HF_HOME/hub,
                           else ~/.cache/huggingface/hub)
  HF_ENDPOINT              the Hub (default https://huggingface.co)
  HF_TOKEN                 an access token, for private or gated models
  HF_HUB_OFFLINE=1         never use the network: only report what the cache has

Options:
  --json    print {"repo", "revision", "commit", "path", "files"} instead of the path

Examples:
  gpt2ts pull huggingtweets/elonmusk-sagnikdatta129
  gpt2ts pull gpt2@main --json`,
  async run(argv, io) {
    const flags = parseFlags(argv, { json: { type: 'boolean' } });
    if (flags.positionals.length !== 1) throw new UsageError('give one model id, e.g. gpt2ts pull huggingtweets/elonmusk-sagnikdatta129');
    const spec = flags.positionals[0];
    if (spec.startsWith('.') || spec.startsWith('/')) throw new UsageError(`"${spec}" is a path; pull takes a Hub model id such as owner/name`);
    const r = await pullModel(spec, hubCliOptions(io));
    if (bool(flags, 'json')) {
      await write(io.stdout, JSON.stringify({ repo: r.repoId, revision: r.revision, commit: r.commit, path: r.dir, files: r.files }) + '\n');
    } else {
      await write(io.stdout, r.dir + '\n');
    }
  },
};
