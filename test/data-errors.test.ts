// Bad archives: each gives one TweetDataError whose message names the file and the line or the
// record (1-based), for broken JSON in both tweets.js layouts and in JSONL, missing text fields,
// broken CSV, non-UTF-8 bytes, missing and empty files, and too little text after filtering.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TweetDataError, buildTweetDataset, readTweetsFile } from '../src/train/data/index.ts';

const DIR = 'test/fixtures/tweets';
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-data-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** writes content to a fresh file under tmp and returns its path */
function put(content: string | Uint8Array, name = 'tweets.txt'): string {
  const path = join(tmp, `${n++}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** the TweetDataError thrown by f (fails the test if none) */
function dataError(f: () => unknown): TweetDataError {
  try {
    f();
  } catch (e) {
    if (e instanceof TweetDataError) return e;
    throw e;
  }
  throw new Error('expected a TweetDataError');
}

const fixture = (user: string, file: string) => readFileSync(`${DIR}/${user}/${file}`, 'utf8');
/** 1-based line of the first line that includes needle, after skipping `skip` matches */
function lineOf(text: string, needle: string, skip = 0): number {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i].includes(needle) && seen++ === skip) return i + 1;
  throw new Error(`${needle} not found`);
}

describe.each(['unixsage', 'grandmasaid'])('tweets.js (%s layout)', (user) => {
  const js = fixture(user, 'tweets.js');

  it('a missing comma: the line and column of the next member', () => {
    const lines = js.split('\n');
    const at = lineOf(js, '"favorite_count" :', 10);
    lines[at - 1] = lines[at - 1].replace(/,$/, '');
    const path = put(lines.join('\n'), 'tweets.js');
    const e = dataError(() => readTweetsFile(path));
    const column = lines[at].indexOf('"') + 1;
    expect(e.message).toBe(`${path}: line ${at + 1}, column ${column}: invalid JSON: unexpected "\\"", expected ',' or '}' after an object member`);
    expect([e.file, e.line, e.column]).toEqual([path, at + 1, column]);
  });

  it('a file cut short inside a tweet: the line of the open string', () => {
    const cut = js.indexOf('"full_text" : "', js.length >> 1) + 20;
    const path = put(js.slice(0, cut), 'tweets.js');
    const e = dataError(() => readTweetsFile(path));
    expect(e.message).toMatch(new RegExp(`: line ${js.slice(0, cut).split('\n').length}, column \\d+: invalid JSON: unterminated string$`));
  });

  it('an array never closed', () => {
    const path = put(js.replace(/\]\s*$/, ''), 'tweets.js');
    expect(dataError(() => readTweetsFile(path)).message).toMatch(/invalid JSON: unexpected end of file, the array is not closed with '\]'$/);
  });

  it('a tweet without full_text: its record number and line', () => {
    let k = 0;
    const broken = js.replace(/"full_text" :/g, (m) => (++k === 5 ? '"fulltext" :' : m));
    const path = put(broken, 'tweets.js');
    const e = dataError(() => readTweetsFile(path));
    const line = lineOf(js, '"tweet" :', 4) - 1; // the element's '{' is on the line before
    expect(e.record).toBe(5);
    expect(e.line).toBe(line);
    expect(e.message).toMatch(new RegExp(`^${path.replace(/[.\\]/g, '\\$&')}: record 5 \\(line ${line}\\): no "full_text" or "text" field in the tweet \\(it has: `));
  });
});

describe('other JSON errors', () => {
  it('text after the array, and a record that is not a tweet', () => {
    expect(dataError(() => readTweetsFile(put('window.YTD.tweets.part0 = [ "a b c" ] x', 'tweets.js'))).message)
      .toMatch(/line 1, column 39: invalid JSON: unexpected text after the array of tweets$/);
    expect(dataError(() => readTweetsFile(put('[\n"a",\n3\n]', 'x.json'))).message).toMatch(/record 2 \(line 3\): expected a tweet object or a string, found number$/);
    expect(dataError(() => readTweetsFile(put('[{"full_text": null}]', 'x.json'))).message).toMatch(/record 1 \(line 1\): the tweet's text is null, not a string$/);
    expect(dataError(() => readTweetsFile(put('window.YTD.tweets.part0 = {"a": 1}', 'tweets.js'))).message).toMatch(/line 1, column 27: invalid JSON: expected a JSON array/);
  });
});

describe('JSONL', () => {
  it('a broken line: its line and column', () => {
    const lines = fixture('unixsage', 'tweets.jsonl').split('\n');
    lines[3] = lines[3].replace(/\}$/, '');
    const path = put(lines.join('\n'), 'tweets.jsonl');
    const e = dataError(() => readTweetsFile(path));
    expect(e.message).toBe(`${path}: line 4, column ${lines[3].length + 1}: invalid JSON: unexpected end of input, expected ',' or '}' after an object member`);
  });

  it('a record without text: its record number and line (blank lines are not records)', () => {
    const path = put('{"text": "one two three"}\n\n{"text": "four five six"}\n{"txt": "oops"}\n', 'tweets.jsonl');
    const e = dataError(() => readTweetsFile(path));
    expect(e.message).toBe(`${path}: record 3 (line 4): no "full_text" or "text" field in the tweet (it has: txt)`);
  });
});

describe('CSV', () => {
  it('no text column', () => {
    const path = put('id,created_at,body\n1,x,hello there friend\n', 'tweets.csv');
    expect(dataError(() => readTweetsFile(path)).message).toBe(`${path}: line 1: the CSV header has no "text" column (columns: id, created_at, body)`);
  });

  it('a quote never closed: the line where it opened', () => {
    const path = put('id,text\n1,"fine, quoted\nover two lines"\n2,"never closed\n3,plain text here\n', 'tweets.csv');
    const e = dataError(() => readTweetsFile(path));
    expect(e.message).toBe(`${path}: line 4, column 3: invalid CSV: quoted field is never closed (a " is missing)`);
  });

  it('a stray quote in the fixture: the line where the parse breaks', () => {
    const csv = fixture('grandmasaid', 'tweets.csv').split('\n');
    csv[10] = csv[10].replace(/Schizophrenia/, 'Schizo"phrenia');
    const path = put(csv.join('\n'), 'tweets.csv');
    expect(dataError(() => readTweetsFile(path)).message).toMatch(/: line 11, column \d+: invalid CSV: a " inside an unquoted field/);
  });

  it('a row without its text field: the record and its line', () => {
    const path = put('id,created_at,text\n1,a,"one,\ntwo three"\n2,b\n', 'tweets.csv');
    expect(dataError(() => readTweetsFile(path)).message).toBe(`${path}: record 2 (line 4): the row has 2 fields, the header has 3 (no text field)`);
  });
});

describe('files', () => {
  it('not UTF-8: the line of the bad byte', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('first line ok\nsecond '), 0xff, 0x0a]);
    const path = put(bytes);
    expect(dataError(() => readTweetsFile(path)).message).toBe(`${path}: line 2: not UTF-8 text (byte 0xff at offset 21); save the file as UTF-8`);
  });

  it('a missing file', () => {
    const path = join(tmp, 'nope', 'tweets.js');
    expect(dataError(() => buildTweetDataset([path])).message).toBe(`${path}: cannot read the file (ENOENT)`);
  });

  it('an empty file', () => {
    const path = put('\n\n');
    expect(dataError(() => buildTweetDataset([path])).message).toBe(`${path}: no tweets in the file (read as text)`);
  });
});

describe('too little text', () => {
  it('nothing left after filtering', () => {
    const path = put('{"text": "RT @a: one two three"}\n{"text": "too short"}\n{"text": "https://t.co/AbCdEfGhIj"}\n', 'tweets.jsonl');
    expect(dataError(() => buildTweetDataset([path])).message)
      .toBe(`${path}: no tweets left after filtering (3 tweets read as jsonl, 1 retweets and 2 short tweets dropped)`);
  });

  it('fewer than 6000 characters kept (joined as the notebook measured)', () => {
    const lines = fixture('unixsage', 'tweets.jsonl').split('\n').slice(0, 30);
    const path = put(lines.join('\n'), 'tweets.jsonl');
    const e = dataError(() => buildTweetDataset([path]));
    expect(e.message).toMatch(/: not enough text to train on: \d+ tweets kept with \d+ characters, at least 6000 needed \(30 tweets read as jsonl, \d+ retweets and \d+ short tweets dropped\)$/);
    expect(() => buildTweetDataset([path], { minChars: 1000, blockSize: 64 })).not.toThrow();
  });

  it('a second user too small names that file', () => {
    const small = put('{"text": "one two three four"}\n', 'tweets.jsonl');
    expect(dataError(() => buildTweetDataset([`${DIR}/unixsage/tweets.js`, small])).file).toBe(small);
  });

  it('a training text shorter than one block', () => {
    const path = put('{"text": "one two three four"}\n', 'tweets.jsonl');
    expect(() => buildTweetDataset([path], { minChars: 1, blockSize: 64 })).toThrow(/the training text has 6 tokens, fewer than one block of 64/);
  });
});
