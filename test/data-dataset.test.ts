// From cleaned tweets to token blocks: the seeded split by tweet, the notebook's upsampling and
// shuffling of several users, the <|endoftext|> layout, block cutting (remainder dropped, as HF
// TextDataset), determinism per seed, and the model card's data table.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/generate/rng.ts';
import { Tokenizer } from '../src/tokenizer/index.ts';
import {
  EOT, buildTweetDataset, codePoints, cutBlocks, encodeJoined, filterTweets, formatDataTable, joinTweets, mixUsers,
  randBelow, readTweetsFile, shuffleInPlace, splitUsers, splitValidation, totalCodePoints, trainingSequence,
  userNameFromPath,
} from '../src/train/data/index.ts';

const tok = Tokenizer.default();
const UNIX = 'test/fixtures/tweets/unixsage/tweets.js';
const GRANDMA = 'test/fixtures/tweets/grandmasaid/tweets.csv';
const unix = filterTweets(readTweetsFile(UNIX).tweets).texts;
const grandma = filterTweets(readTweetsFile(GRANDMA).tweets).texts;
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function counts(a: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of a) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}
const sameMultiset = (a: readonly string[], b: readonly string[]) => expect([...a].sort()).toEqual([...b].sort());

describe('seeded shuffling', () => {
  it('randBelow stays in range and is roughly uniform', () => {
    const rng = new Rng(1);
    const hist = [0, 0, 0];
    for (let i = 0; i < 30000; i++) hist[randBelow(rng, 3)]++;
    for (const h of hist) expect(Math.abs(h - 10000)).toBeLessThan(400);
    expect(randBelow(rng, 1)).toBe(0);
    expect(() => randBelow(rng, 0)).toThrow(RangeError);
  });

  it('shuffles to a permutation, the same for the same seed', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const s1 = shuffleInPlace(new Rng(5), a.slice());
    const s2 = shuffleInPlace(new Rng(5), a.slice());
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(a);
    expect([...s1].sort((x, y) => x - y)).toEqual(a);
    expect(shuffleInPlace(new Rng(6), a.slice())).not.toEqual(s1);
  });
});

describe('validation split by tweet', () => {
  it('holds out round(fraction · n) tweets per user, disjoint, both parts in file order', () => {
    const { train, validation } = splitValidation(new Rng(3), unix, 0.1);
    expect(validation.length).toBe(Math.round(0.1 * unix.length));
    expect(train.length + validation.length).toBe(unix.length);
    const pos = new Map(unix.map((t, i) => [t, i]));
    for (const part of [train, validation]) {
      const idx = part.map((t) => pos.get(t) as number);
      expect(idx).toEqual([...idx].sort((x, y) => x - y));
    }
    sameMultiset([...train, ...validation], unix);
  });

  it('is deterministic per seed, and splits each user', () => {
    const a = splitUsers([unix, grandma], 9, 0.05);
    expect(splitUsers([unix, grandma], 9, 0.05)).toEqual(a);
    expect(splitUsers([unix, grandma], 10, 0.05).validation).not.toEqual(a.validation);
    expect(a.validation.map((v) => v.length)).toEqual([Math.round(0.05 * unix.length), Math.round(0.05 * grandma.length)]);
  });

  it('takes at least one tweet and leaves at least one; fraction 0 takes none', () => {
    expect(splitValidation(new Rng(1), ['a', 'b'], 0.01).validation.length).toBe(1);
    expect(splitValidation(new Rng(1), ['a', 'b'], 0.9).train.length).toBe(1);
    expect(splitValidation(new Rng(1), ['a', 'b'], 0)).toEqual({ train: ['a', 'b'], validation: [] });
    expect(() => splitValidation(new Rng(1), ['a'], 1)).toThrow(RangeError);
    expect(() => splitValidation(new Rng(1), ['a'], -0.1)).toThrow(RangeError);
  });
});

describe("the notebook's mixing of several users", () => {
  it('upsamples a smaller user to the largest character count, cycling its shuffled tweets', () => {
    const seq = mixUsers(new Rng(1), [['aaaa'], ['b', 'c']]);
    expect(seq[0]).toBe('aaaa');
    expect(counts(seq.slice(1))).toEqual(new Map([['b', 2], ['c', 2]]));
    // the last tweet may overshoot: 3 chars + 'bb' = 5 ≥ 4, or 1 + 'bb' + 'c' = 4
    const seq2 = mixUsers(new Rng(2), [['aaaa'], ['bb', 'c']]);
    expect(totalCodePoints(seq2.slice(1))).toBeGreaterThanOrEqual(4);
  });

  it('on the fixtures: user blocks in order, the smaller one upsampled just past the larger', () => {
    // tag each tweet with its user and index, so that every occurrence tells where it came from
    const a = unix.map((t, i) => `A${i} ${t}`);
    const b = grandma.map((t, i) => `B${i} ${t}`);
    const target = totalCodePoints(a);
    expect(target).toBeGreaterThan(totalCodePoints(b));
    const seq = trainingSequence([a, b], 11);
    const first = seq.slice(0, a.length);
    const second = seq.slice(a.length);
    sameMultiset(first, a); // the largest user is not upsampled, only shuffled
    expect(first).not.toEqual(a);
    const chars = totalCodePoints(second);
    expect(chars).toBeGreaterThanOrEqual(target);
    expect(chars - Math.max(...b.map(codePoints))).toBeLessThan(target);
    // cycling the shuffled list: every tweet once, then some again (fewer than n more here)
    const c = counts(second);
    expect(new Set(c.keys())).toEqual(new Set(b));
    for (const n of c.values()) expect(n === 1 || n === 2).toBe(true);
    expect(second.length).toBe(b.length + [...c.values()].filter((n) => n === 2).length);
  });

  it('passes repeat the (upsampled) lists, reshuffled, as the notebook built its 4 epochs', () => {
    const one = trainingSequence([unix, grandma], 11, 1);
    const four = trainingSequence([unix, grandma], 11, 4);
    expect(four.length).toBe(4 * one.length);
    expect(four.slice(0, one.length)).toEqual(one); // the same generator stream
    for (let p = 1; p < 4; p++) {
      const pass = four.slice(p * one.length, (p + 1) * one.length);
      sameMultiset(pass.slice(0, unix.length), unix);
      sameMultiset(pass.slice(unix.length), one.slice(unix.length));
      expect(pass).not.toEqual(one);
    }
  });

  it('is deterministic per seed', () => {
    expect(trainingSequence([unix, grandma], 5)).toEqual(trainingSequence([unix, grandma], 5));
    expect(trainingSequence([unix, grandma], 6)).not.toEqual(trainingSequence([unix, grandma], 5));
  });
});

describe('token layout and blocks', () => {
  it('puts <|endoftext|> first, between tweets and last', () => {
    const texts = ['hello world', 'a b c', 'hello world'];
    const ids = Array.from(encodeJoined(tok, texts));
    const e = tok.eotId;
    expect(ids).toEqual([e, ...tok.encodeOrdinary('hello world'), e, ...tok.encodeOrdinary('a b c'), e, ...tok.encodeOrdinary('hello world'), e]);
    expect(ids).toEqual(tok.encode(joinTweets(texts), { allowedSpecial: 'all' }));
    expect(joinTweets(texts)).toBe(`${EOT}hello world${EOT}a b c${EOT}hello world${EOT}`);
  });

  it('keeps a literal "<|endoftext|>" inside a tweet as text', () => {
    const ids = Array.from(encodeJoined(tok, ['a <|endoftext|> b c']));
    expect(ids.filter((id) => id === tok.eotId).length).toBe(2);
  });

  it('cuts whole blocks and drops the remainder', () => {
    const ids = Int32Array.from({ length: 23 }, (_, i) => i);
    const b = cutBlocks(ids, 4, 5);
    expect(b.blocks.map((x) => Array.from(x))).toEqual([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]);
    expect([b.totalTokens, b.droppedTokens, b.tokens.length, b.tweets]).toEqual([23, 3, 20, 4]);
    expect(cutBlocks(ids, 4, 23).blocks.length).toBe(1);
    expect(cutBlocks(ids, 4, 24).blocks.length).toBe(0);
  });
});

describe('buildTweetDataset on the two fixture users', () => {
  const opts = { seed: 7, validationFraction: 0.1, blockSize: 256, nPositions: 1024 };
  const ds = buildTweetDataset([UNIX, { path: GRANDMA, user: 'grandma' }], opts);

  it('reports the per-user table and the numbers behind it', () => {
    expect(ds.users.map(({ user, downloaded, retweets, short, kept, keptChars, joinedChars, keptTokens, joinedTokens, format }) =>
      [user, format, downloaded, retweets, short, kept, keptChars, joinedChars, keptTokens, joinedTokens])).toEqual([
      ['unixsage', 'tweets.js', 2100, 378, 86, 1636, 188373, 209628, 46346, 47981],
      ['grandma', 'csv', 2300, 230, 137, 1933, 174278, 199394, 42641, 44573],
    ]);
    expect(ds.users.map((u) => [u.trainTweets, u.validationTweets])).toEqual([[1472, 164], [1740, 193]]);
    expect(ds.warnings).toEqual([]);
  });

  it('is the composition of the split, the mixing, the layout and the cut', () => {
    const split = splitUsers([unix, grandma], 7, 0.1);
    const seq = trainingSequence(split.train, 7);
    const ids = encodeJoined(tok, seq);
    expect(ds.train.tweets).toBe(seq.length);
    expect(ds.train.totalTokens).toBe(ids.length);
    expect(ds.train.blocks.length).toBe(Math.floor(ids.length / 256));
    expect(ds.train.droppedTokens).toBe(ids.length % 256);
    expect(ds.train.tokens).toEqual(ids.subarray(0, ds.train.blocks.length * 256));
    for (const b of ds.train.blocks) expect(b.length).toBe(256);
    expect(joinTweets(seq).startsWith(tok.decode(ds.train.tokens))).toBe(true);
    const val = split.validation.flat();
    expect(ds.validation?.tweets).toBe(val.length);
    expect(ds.validation?.tokens).toEqual(encodeJoined(tok, val).subarray(0, (ds.validation?.blocks.length ?? 0) * 256));
  });

  it('holds the validation tweets whole, and none of them is trained on', () => {
    const split = splitUsers([unix, grandma], 7, 0.1);
    const val = split.validation.flat();
    const segments = tok.decode(ds.validation?.tokens ?? []).split(EOT);
    expect(segments[0]).toBe('');
    expect(segments.slice(1, -1)).toEqual(val.slice(0, segments.length - 2)); // the last one is cut
    // two fortunes are kept by both users; any other text is in one place only
    const all = counts([...unix, ...grandma]);
    const trainSet = new Set(split.train.flat());
    for (const t of val) if (all.get(t) === 1) expect(trainSet.has(t)).toBe(false);
    expect([...all.values()].filter((n) => n > 1).length).toBe(2);
  });

  it('places <|endoftext|> exactly between the training tweets', () => {
    const seq = trainingSequence(splitUsers([unix, grandma], 7, 0.1).train, 7);
    let k = 0;
    expect(ds.train.tokens[0]).toBe(tok.eotId);
    for (const t of seq) {
      k += 1 + tok.encodeOrdinary(t).length;
      if (k >= ds.train.tokens.length) break;
      expect(ds.train.tokens[k]).toBe(tok.eotId);
    }
    const eots = ds.train.tokens.filter((id) => id === tok.eotId).length;
    expect(eots).toBeGreaterThan(0.9 * seq.length);
  });

  it('is the same for the same seed and differs for another', () => {
    const again = buildTweetDataset([UNIX, { path: GRANDMA, user: 'grandma' }], opts);
    expect(again.train.tokens).toEqual(ds.train.tokens);
    expect(again.validation?.tokens).toEqual(ds.validation?.tokens);
    const other = buildTweetDataset([UNIX, GRANDMA], { ...opts, seed: 8 });
    expect(other.train.tokens).not.toEqual(ds.train.tokens);
    expect(other.users.map((u) => u.kept)).toEqual([1636, 1933]);
  });

  it('defaults the block size to min(1024, n_positions) and checks it', () => {
    const small = buildTweetDataset([GRANDMA], { nPositions: 128 });
    expect(small.blockSize).toBe(128);
    expect(small.validation).toBeNull();
    expect(small.train.totalTokens).toBe(44573 + 2); // one user, one pass: the README's joined tokens + 2
    const big = buildTweetDataset([GRANDMA]);
    expect(big.blockSize).toBe(1024);
    expect(big.train.blocks.length).toBe(Math.floor((44573 + 2) / 1024));
    expect(() => buildTweetDataset([GRANDMA], { nPositions: 128, blockSize: 256 })).toThrow(/block size must be an integer in 1\.\.128/);
  });

  it('builds the notebook\'s 4 passes into one text', () => {
    const four = buildTweetDataset([UNIX, GRANDMA], { seed: 7, passes: 4, blockSize: 1024 });
    const seq = trainingSequence([unix, grandma], 7, 4);
    expect(four.train.tweets).toBe(seq.length);
    expect(four.train.totalTokens).toBe(encodeJoined(tok, seq).length);
  });
});

describe('small users', () => {
  it('warns below 40000 characters, as the notebook did', () => {
    const lines = unix.slice(0, 150).map((text) => JSON.stringify({ text }));
    writeFileSync(join(tmp, 'few.jsonl'), lines.join('\n') + '\n');
    const ds = buildTweetDataset([join(tmp, 'few.jsonl')], { blockSize: 64 });
    expect(ds.users[0].user).toBe('few');
    expect(ds.users[0].joinedChars).toBeLessThan(40000);
    expect(ds.warnings).toHaveLength(1);
    expect(ds.warnings[0]).toMatch(/few\.jsonl: only \d+ characters of tweets kept; fewer than 40000/);
  });
});

describe('formatDataTable', () => {
  it('writes the seed card\'s table, one column per user', () => {
    const ds = buildTweetDataset([UNIX, GRANDMA], { blockSize: 1024 });
    expect(formatDataTable(ds.users)).toBe([
      '| Data              | unixsage | grandmasaid |',
      '|-------------------|----------|-------------|',
      '| Tweets downloaded | 2100     | 2300        |',
      '| Retweets          | 378      | 230         |',
      '| Short tweets      | 86       | 137         |',
      '| Tweets kept       | 1636     | 1933        |',
    ].join('\n'));
  });

  it('escapes a | in a name and rejects an empty list', () => {
    expect(formatDataTable([{ user: 'a|b', downloaded: 1, retweets: 0, short: 0, kept: 1 }]).split('\n')[0]).toBe('| Data              | a\\|b |');
    expect(() => formatDataTable([])).toThrow();
  });
});

describe('userNameFromPath', () => {
  it('names a user by folder for generic file names, else by file stem', () => {
    expect(userNameFromPath('test/fixtures/tweets/unixsage/tweets.js')).toBe('unixsage');
    expect(userNameFromPath('/x/twitter-2023-01-01-abc/data/tweets.js')).toBe('twitter-2023-01-01-abc');
    expect(userNameFromPath('/x/arch/data/tweets-part1.js')).toBe('arch');
    expect(userNameFromPath('elonmusk.csv')).toBe('elonmusk');
    expect(userNameFromPath('tweets.jsonl')).toBe('tweets');
  });
});
