// `gpt2ts generate`: continue a prompt (text or token ids), streaming text to stdout as tokens come.

import { randomInt } from 'node:crypto';
import type { GenerateOptions } from '../generate/generate.ts';
import { HF_SAMPLING_DEFAULTS } from '../generate/sampling.ts';
import { cutAtFirstNewline, newTokenLimits, taskDefaults } from '../generate/task-defaults.ts';
import { type Command, UsageError, bool, int, num, parseFlags, str, write } from './common.ts';
import { MODEL_FLAGS, MODEL_HELP, loadFromFlags } from './model-options.ts';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt (sampling or greedy), streaming the text',
  help: `Usage: gpt2ts generate [PROMPT] [options]

Continues PROMPT (text; or --prompt-ids) with the model and prints the prompt and its
continuation, token by token. Without a prompt, generation starts from <|endoftext|>.
Sampling follows the Hugging Face text-generation defaults (top-k ${HF_SAMPLING_DEFAULTS.topK}, top-p ${HF_SAMPLING_DEFAULTS.topP}, temperature ${HF_SAMPLING_DEFAULTS.temperature}).

A model whose config.json has task_specific_params["text-generation"] (huggingtweets models do)
generates with those defaults, as the Hugging Face pipeline does: do_sample, temperature, top_p,
max_length / min_length (counted with the prompt), and a prefix put before the prompt
(huggingtweets: <|endoftext|>); with a prefix, each sample is cut at its first newline (one tweet).
Flags given explicitly win over them.

Options:
${MODEL_HELP}
  --prompt-ids IDS     the prompt as token ids (comma or space separated) instead of text
  --special            recognise <|endoftext|> in the prompt text as the special token
  --max-new-tokens N   tokens to generate at most (default 50)
  --min-new-tokens N   suppress <|endoftext|> until N tokens exist (default 0)
  --greedy             take the most likely token each step (no sampling)
  --temperature T      divide the logits by T > 0 (default 1)
  --top-k K            sample among the K most likely tokens; 0 disables (default 50)
  --top-p P            sample from the smallest set with probability ≥ P; 1 disables (default 0.95)
  --seed S             seed of the sampler (default: random; printed with --json)
  -n N                 number of sequences to sample (default 1)
  --no-stop            keep going after <|endoftext|>
  --truncate-left      drop the oldest prompt tokens when prompt + new tokens exceed n_positions
  --no-prefix          do not put the model's task prefix (e.g. <|endoftext|>) before the prompt
  --no-cut             do not cut samples at their first newline
  --no-task-defaults   ignore the model's task_specific_params entirely
  --json               print one JSON object: prompt ids, seed, and each sequence's ids and text
                       (special tokens such as <|endoftext|> are in the ids, never in the text)

Examples:
  gpt2ts generate "My dream is" --max-new-tokens 40 --seed 1
  gpt2ts generate --model ./gpt2 --greedy --prompt-ids 15496,11,995 --json
  gpt2ts generate "My dream is" --model hf:huggingtweets/elonmusk-sagnikdatta129 -n 5`,
  async run(argv, io) {
    const flags = parseFlags(argv, {
      ...MODEL_FLAGS,
      'prompt-ids': { type: 'string' }, special: { type: 'boolean' },
      'max-new-tokens': { type: 'string' }, 'min-new-tokens': { type: 'string' },
      greedy: { type: 'boolean' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
      seed: { type: 'string' }, n: { type: 'string', short: 'n' }, 'no-stop': { type: 'boolean' },
      'truncate-left': { type: 'boolean' }, json: { type: 'boolean' },
      'no-prefix': { type: 'boolean' }, 'no-cut': { type: 'boolean' }, 'no-task-defaults': { type: 'boolean' },
    });
    if (flags.positionals.length > 1) throw new UsageError(`give the prompt as one argument (quote it); got ${flags.positionals.length}`);
    const promptText = flags.positionals[0];
    const promptIds = parseIds(str(flags, 'prompt-ids'));
    if (promptText !== undefined && promptIds) throw new UsageError('give either a PROMPT or --prompt-ids, not both');
    const greedy = bool(flags, 'greedy');
    for (const f of ['temperature', 'top-k', 'top-p']) {
      if (greedy && flags.values[f] !== undefined) throw new UsageError(`--${f} has no effect with --greedy`);
    }
    // explicit flags; the model's task defaults (known once it is loaded) fill what is left
    const maxNewFlag = int(flags, 'max-new-tokens', 1);
    const minNewFlag = int(flags, 'min-new-tokens', 0);
    const temperatureFlag = num(flags, 'temperature', 0, 1e6, true);
    const topKFlag = int(flags, 'top-k', 0);
    const topPFlag = num(flags, 'top-p', 0, 1, true);
    const opts: GenerateOptions = {
      doSample: !greedy,
      maxNewTokens: maxNewFlag ?? 50,
      minNewTokens: minNewFlag ?? 0,
      temperature: temperatureFlag ?? HF_SAMPLING_DEFAULTS.temperature,
      topK: topKFlag ?? HF_SAMPLING_DEFAULTS.topK,
      topP: topPFlag ?? HF_SAMPLING_DEFAULTS.topP,
      numReturnSequences: int(flags, 'n', 1, 1024) ?? 1,
      seed: int(flags, 'seed', -(2 ** 53 - 1), 2 ** 53 - 1) ?? randomInt(2 ** 31),
      stopAtEos: !bool(flags, 'no-stop'),
      truncation: bool(flags, 'truncate-left') ? 'left' : 'error',
    };
    if (greedy && (opts.numReturnSequences ?? 1) > 1) throw new UsageError('-n > 1 needs sampling (drop --greedy)');
    const json = bool(flags, 'json');

    const model = await loadFromFlags(flags, io);
    try {
      const tok = model.tokenizer;
      const userPrompt = promptIds ?? (promptText !== undefined ? model.encode(promptText, bool(flags, 'special')) : []);
      // task_specific_params["text-generation"] (huggingtweets): prefix, sampling and length defaults, newline cut
      const td = bool(flags, 'no-task-defaults') ? null : taskDefaults(model.config);
      const prefixIds = td?.prefix !== undefined && !bool(flags, 'no-prefix') ? model.encode(td.prefix, true) : [];
      const prompt = [...prefixIds, ...userPrompt];
      const cut = Boolean(td?.cutAtNewline) && !bool(flags, 'no-cut');
      if (td) {
        if (!greedy && td.doSample === false && temperatureFlag === undefined && topKFlag === undefined && topPFlag === undefined) opts.doSample = false;
        opts.temperature = temperatureFlag ?? td.temperature ?? opts.temperature;
        opts.topK = topKFlag ?? td.topK ?? opts.topK;
        opts.topP = topPFlag ?? td.topP ?? opts.topP;
        const lim = newTokenLimits(td, Math.max(prompt.length, 1), model.config.nPositions);
        opts.maxNewTokens = maxNewFlag ?? lim.maxNewTokens;
        opts.minNewTokens = minNewFlag ?? Math.min(lim.minNewTokens, opts.maxNewTokens ?? lim.maxNewTokens);
        if (io.stderrIsTTY) io.stderr.write(`gpt2ts: using the model's ${td.source} (--no-task-defaults to ignore them)\n`);
      }
      const n = opts.numReturnSequences ?? 1;
      if (!opts.doSample && n > 1) throw new UsageError('-n > 1 needs sampling; this model\'s defaults are greedy (give --temperature or --top-p)');
      // one sequence streams as it is generated; several are printed when done
      const stream = !json && n === 1;
      const decoder = tok.streamDecoder();
      let pending: Promise<void> = Promise.resolve();
      let cutDone = false; // streaming with the newline cut: stop printing at the first newline
      const emit = (text: string): void => {
        if (cutDone || !text) return;
        const shown = cut ? cutAtFirstNewline(text) : text;
        cutDone = shown !== text;
        if (shown) pending = pending.then(() => write(io.stdout, shown));
      };
      // special tokens (<|endoftext|>) are not shown, as the HF pipeline decodes with
      // skip_special_tokens; --json keeps them in the ids
      const special = new Set(tok.specialTokens.values());
      if (stream) opts.onToken = (_row, id) => emit(special.has(id) ? '' : safeDecodeToken(decoder, id));
      if (stream && userPrompt.length) await write(io.stdout, safeDecode(tok, userPrompt) ?? '');
      const r = await model.generate(prompt, opts);
      await pending;
      if (stream) {
        emit(decoder.flush());
        await pending;
        await write(io.stdout, '\n');
        return;
      }
      const texts = r.sequences.map((s) => {
        const t = safeDecode(tok, s.filter((id) => !special.has(id)));
        return t !== null && cut ? cutAtFirstNewline(t) : t;
      });
      // the prefix is not part of what is shown (as the pipeline strips it); its ids are in prompt_ids
      // (left truncation drops the oldest tokens, the prefix first)
      const prefixLeft = Math.max(0, prefixIds.length - Math.max(0, prompt.length - r.prompt.length));
      const shownPrompt = r.prompt.slice(prefixLeft);
      if (json) {
        await write(io.stdout, JSON.stringify({
          prompt_ids: r.prompt, prompt: safeDecode(tok, shownPrompt), seed: opts.seed,
          ...(td ? { task_defaults: { source: td.source, prefix: prefixIds.length > 0, cut } } : {}),
          sequences: r.sequences.map((ids, i) => ({ ids, text: texts[i] })),
        }) + '\n');
        return;
      }
      const head = safeDecode(tok, shownPrompt) ?? '';
      for (let i = 0; i < n; i++) {
        await write(io.stdout, `${i > 0 ? '\n---\n' : ''}${head}${texts[i] ?? ''}\n`);
      }
    } finally {
      model.dispose();
    }
  },
};

/** "1,2,3" or "1 2 3" or "[1,2,3]" → ids; undefined when the flag is absent. */
function parseIds(s: string | undefined): number[] | undefined {
  if (s === undefined) return undefined;
  const parts = s.replace(/^\s*\[|\]\s*$/g, '').split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new UsageError('--prompt-ids is empty');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`--prompt-ids: "${p}" is not a token id`);
    return Number(p);
  });
}

/** Text of ids, or null when the ids are beyond the tokenizer (a model with a bigger vocabulary). */
function safeDecode(tok: { decode(ids: number[]): string }, ids: number[]): string | null {
  try {
    return tok.decode(ids);
  } catch {
    return null;
  }
}

function safeDecodeToken(dec: { push(id: number): string }, id: number): string {
  try {
    return dec.push(id);
  } catch {
    return '';
  }
}
