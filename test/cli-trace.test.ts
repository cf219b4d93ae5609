// `gpt2ts trace` writes the fixtures' tensor names, shapes and dtypes, with matching values;
// `gpt2ts inspect` describes a model; bad inputs get one-line errors and the right exit codes.

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../src/io/safetensors.ts';
import { runCli, runCliProcess } from './helpers/cli.ts';
import { FIXTURE_SETS, expectClose, fixtureDir, fixtureExpected } from './helpers/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-trace-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** tolerance per tensor name, from test/fixtures/README.md */
function tolerance(name: string): number {
  if (name.startsWith('hidden.block') || name === 'hidden.embeddings' || name === 'loss') return 1e-5;
  if (name.startsWith('grad.') || name === 'grad_norm') return 1e-5;
  return 1e-4; // logits, generate.logits, hidden.ln_f, embed.*
}

describe.each(FIXTURE_SETS)('trace on %s', (set) => {
  it('writes every forward-side tensor of expected.safetensors, same name/dtype/shape, values within tolerance', async () => {
    const out = join(tmp, `${set}.safetensors`);
    const r = await runCli(['trace', '--model', fixtureDir(set), '--inputs', fixtureDir(set) + 'inputs.json', '--out', out, '--backend', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = SafetensorsFile.open(out);
    const exp = fixtureExpected(set);
    const names = got.names().sort();
    const expected = ['logits', 'hidden.embeddings', 'hidden.ln_f', 'loss', 'grad_norm', 'grad.wte.weight', 'grad.wpe.weight', 'grad.ln_f.bias',
      'grad.h.0.attn.c_attn.weight', 'embed.mean', 'embed.last', 'generate.prompt', 'generate.tokens', 'generate.logits'];
    // every grad.* of the reference is written
    for (const n of exp.names()) if (n.startsWith('grad.')) expect(names).toContain(n);
    for (const n of expected) expect(names).toContain(n);
    for (const name of names) {
      const e = exp.info(name);
      const g = got.info(name);
      expect([g.dtype, g.shape]).toEqual([e.dtype, e.shape]);
      if (g.dtype === 'I64') expect(Array.from(got.read(name) as BigInt64Array)).toEqual(Array.from(exp.read(name) as BigInt64Array));
      else expectClose(got.readF32(name), exp.readF32(name), tolerance(name), 0, name);
    }
    got.close();
  });
});

describe('trace and inspect: bad input', () => {
  const tiny = fixtureDir('gpt2-tiny');
  const write = (name: string, text: string): string => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: [string, string[], number, RegExp][] = [
    ['missing --inputs', ['trace', '--model', tiny, '--out', join(tmp, 'x.safetensors')], 2, /--inputs is required/],
    ['missing --out', ['trace', '--model', tiny, '--inputs', tiny + 'inputs.json'], 2, /--out is required/],
    ['unknown flag', ['trace', '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ['unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
    ['bad backend', ['trace', '--model', tiny, '--inputs', tiny + 'inputs.json', '--out', join(tmp, 'x.safetensors'), '--backend', 'tpu'], 2, /--backend must be one of cpu, webgpu/],
    ['inputs not JSON', ['trace', '--model', tiny, '--inputs', write('bad.json', '{"input_ids": [[1,2'), '--out', join(tmp, 'x.safetensors')], 1, /bad\.json: not valid JSON/],
    ['ragged input_ids', ['trace', '--model', tiny, '--inputs', write('ragged.json', '{"input_ids": [[1,2],[3]]}'), '--out', join(tmp, 'x.safetensors')], 1, /rows must all have the same length/],
    ['id out of range', ['trace', '--model', tiny, '--inputs', write('big.json', '{"input_ids": [[1, 512]]}'), '--out', join(tmp, 'x.safetensors')], 1, /token id 512 at \[0\]\[1\] is outside the vocabulary \(0\.\.511\)/],
    ['too long', ['trace', '--model', tiny, '--inputs', write('long.json', JSON.stringify({ input_ids: [Array(65).fill(1)] })), '--out', join(tmp, 'x.safetensors')], 1, /65 tokens exceeds n_positions 64/],
    ['missing model', ['inspect', '--model', join(tmp, 'nope')], 1, /does not exist/],
    ['inspect positional', ['inspect', 'extra'], 2, /Unexpected argument 'extra'/],
  ];
  it.each(cases)('%s', async (_label, argv, code, re) => {
    const r = await runCli(argv);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1); // one line, no stack trace
    expect(r.stderr).toMatch(/^gpt2ts: /);
    expect(existsSync(join(tmp, 'x.safetensors'))).toBe(false); // nothing left behind
    expect(readdirSync(tmp).some((f) => f.includes('.tmp'))).toBe(false);
  });

  it('--debug adds the stack trace', async () => {
    const r = await runCli(['inspect', '--model', join(tmp, 'nope'), '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('inspect prints the config, count and tensor table; --json parses', async () => {
    const r = await runCli(['inspect', '--model', tiny]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/parameters:\s+136,960/);
    expect(r.stdout).toMatch(/wte\.weight\s+F32\s+\[512, 64\]/);
    const j = await runCli(['inspect', '--model', tiny + 'model.f16.safetensors', '--json']);
    const obj = JSON.parse(j.stdout) as { parameters: number; dtypes: Record<string, number>; config: { n_head: number } };
    expect(obj.parameters).toBe(136960);
    expect(Object.keys(obj.dtypes)).toEqual(['F16']);
    expect(obj.config.n_head).toBe(4);
  });

  it('the real process: exit codes and --help for every command', () => {
    const help = runCliProcess(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of help.stdout.matchAll(/^ {2}(\w+) {2,}/gm)) {
      const r = runCliProcess([cmd[1], '--help']);
      expect(r.code, cmd[1]).toBe(0);
      expect(r.stdout).toMatch(/^Usage: gpt2ts /);
    }
    const bad = runCliProcess(['inspect', '--model', '/nonexistent/x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('gpt2ts: model path /nonexistent/x does not exist\n');
  });
});
