// Reading the two synthetic archives (test/fixtures/tweets, see its README) in all three formats:
// format detection by content, identical tweets and cleaned texts from each format, and every
// count of the README's reference-filter table, reproduced exactly.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/tokenizer/index.ts';
import {
  EOT, codePoints, detectFormat, filterTweets, fixText, joinTweets, parseTweets, readTweetsFile, encodeJoined,
  type ParsedTweets,
} from '../src/train/data/index.ts';

const tok = Tokenizer.default();
const DIR = 'test/fixtures/tweets';
const FILES = ['tweets.js', 'tweets.jsonl', 'tweets.csv'] as const;

// The README's tables: categories (by text) and the reference filter.
const EXPECTED = {
  unixsage: {
    downloaded: 2100, retweets: 378, short: 86, kept: 1636, keptChars: 188373, joinedChars: 209628,
    keptTokens: 46346, joinedTokens: 47981, startsWithAt: 420, newline: 114, withUrl: 347, urls: 370,
    amp: 31, lt: 49, gt: 49, anyEntity: 105, hashtag: 67, oneToThreeWords: 126, nonAscii: 36,
    en: 2059, und: 41, replyField: 483, editInfo: 87,
  },
  grandmasaid: {
    downloaded: 2300, retweets: 230, short: 137, kept: 1933, keptChars: 174278, joinedChars: 199394,
    keptTokens: 42641, joinedTokens: 44573, startsWithAt: 345, newline: 125, withUrl: 208, urls: 226,
    amp: 30, lt: 59, gt: 21, anyEntity: 92, hashtag: 123, oneToThreeWords: 207, nonAscii: 83,
    en: 2217, und: 83, replyField: 391, editInfo: 0,
  },
} as const;
type User = keyof typeof EXPECTED;
const USERS = Object.keys(EXPECTED) as User[];

const parsed = new Map<string, ParsedTweets>();
function read(user: User, file: string): ParsedTweets {
  const key = `${user}/${file}`;
  let p = parsed.get(key);
  if (!p) parsed.set(key, (p = readTweetsFile(`${DIR}/${key}`)));
  return p;
}

describe.each(USERS)('%s', (user) => {
  const want = EXPECTED[user];

  it('detects each format by content, not by name', () => {
    expect(FILES.map((f) => read(user, f).format)).toEqual(['tweets.js', 'jsonl', 'csv']);
    for (const f of FILES) {
      const content = readFileSync(`${DIR}/${user}/${f}`, 'utf8');
      const renamed = parseTweets(content, 'no-extension');
      expect(renamed.tweets).toEqual(read(user, f).tweets);
    }
  });

  it('reads the same tweets, texts and ids from all three files', () => {
    const [js, jsonl, csv] = FILES.map((f) => read(user, f).tweets);
    expect(js.length).toBe(want.downloaded);
    expect(jsonl.map((t) => t.text)).toEqual(js.map((t) => t.text));
    expect(csv.map((t) => t.text)).toEqual(js.map((t) => t.text));
    expect(csv.map((t) => t.id)).toEqual(js.map((t) => t.id));
    expect(csv.map((t) => t.createdAt)).toEqual(js.map((t) => t.createdAt));
  });

  it('keeps ids exact as strings (the snowflake agrees with created_at)', () => {
    // The README says 19 digits; the archives hold 17–19 (older snowflakes are shorter). Most
    // are above 2^53, where a JS number would round them.
    const ids = read(user, 'tweets.js').tweets.map((t) => t.id as string);
    expect(ids.filter((id) => BigInt(id) > BigInt(Number.MAX_SAFE_INTEGER)).length).toBeGreaterThan(want.downloaded / 2);
    for (const t of read(user, 'tweets.js').tweets) {
      expect(t.id).toMatch(/^\d{17,19}$/);
      const ms = Number((BigInt(t.id as string) >> 22n) + 1288834974657n);
      expect(Math.floor(ms / 1000)).toBe(Date.parse(t.createdAt as string) / 1000);
    }
  });

  it('matches the README\'s counts derived from the text', () => {
    const texts = read(user, 'tweets.jsonl').tweets.map((t) => t.text);
    const count = (f: (t: string) => boolean) => texts.filter(f).length;
    expect(count((t) => t.startsWith('RT @'))).toBe(want.retweets);
    expect(count((t) => t.startsWith('@'))).toBe(want.startsWithAt);
    expect(count((t) => t.includes('\n'))).toBe(want.newline);
    expect(count((t) => t.includes('https://t.co/'))).toBe(want.withUrl);
    expect(texts.join(' ').match(/https:\/\/t\.co\/[A-Za-z0-9]{10}/g)?.length).toBe(want.urls);
    expect([count((t) => t.includes('&amp;')), count((t) => t.includes('&lt;')), count((t) => t.includes('&gt;'))])
      .toEqual([want.amp, want.lt, want.gt]);
    expect(count((t) => /&(amp|lt|gt);/.test(t))).toBe(want.anyEntity);
    expect(count((t) => /#\w/.test(t))).toBe(want.hashtag);
    expect(count((t) => { const n = t.trim().split(/\s+/).length; return n >= 1 && n <= 3; })).toBe(want.oneToThreeWords);
    expect(count((t) => /[^\x00-\x7f]/.test(t))).toBe(want.nonAscii);
    expect(Math.max(...texts.map(codePoints))).toBe(375);
    expect(Math.max(...texts.map((t) => codePoints(fixText(t))))).toBe(280);
  });

  it('reads the archive metadata of both pretty-print layouts', () => {
    const raw = readFileSync(`${DIR}/${user}/tweets.js`, 'utf8');
    const records = JSON.parse(raw.slice(raw.indexOf('=') + 1)) as { tweet: Record<string, unknown> }[];
    expect(records.length).toBe(want.downloaded);
    expect(records.filter((r) => r.tweet.in_reply_to_screen_name !== undefined).length).toBe(want.replyField);
    expect(records.filter((r) => r.tweet.edit_info !== undefined).length).toBe(want.editInfo);
    expect(records.filter((r) => r.tweet.lang === 'en').length).toBe(want.en);
    expect(records.filter((r) => r.tweet.lang === 'und').length).toBe(want.und);
    expect(read(user, 'tweets.js').tweets.map((t) => t.text)).toEqual(records.map((r) => r.tweet.full_text));
  });

  it('gives identical cleaned tweet lists and the README\'s filter table from every format', () => {
    const results = FILES.map((f) => filterTweets(read(user, f).tweets));
    expect(results[1].texts).toEqual(results[0].texts);
    expect(results[2].texts).toEqual(results[0].texts);
    for (const r of results) {
      expect(r.stats).toEqual({
        downloaded: want.downloaded, retweets: want.retweets, short: want.short, kept: want.kept,
        keptChars: want.keptChars, joinedChars: want.joinedChars,
      });
    }
  });

  it('matches the README\'s character and token counts, and its joining', () => {
    const { texts } = filterTweets(read(user, 'tweets.csv').tweets);
    // the README joins with <|endoftext|> between tweets only (no leading or trailing one)
    expect(texts.reduce((n, t) => n + codePoints(t), 0)).toBe(want.keptChars);
    expect(codePoints(texts.join(EOT))).toBe(want.joinedChars);
    expect(texts.reduce((n, t) => n + tok.encodeOrdinary(t).length, 0)).toBe(want.keptTokens);
    const joined = tok.encode(texts.join(EOT), { allowedSpecial: 'all' });
    expect(joined.length).toBe(want.joinedTokens);
    expect(joined.filter((id) => id === tok.eotId).length).toBe(want.kept - 1);
    // the training text adds one <|endoftext|> at each end: 26 code points and 2 tokens more
    expect(codePoints(joinTweets(texts))).toBe(want.joinedChars + 2 * EOT.length);
    const ids = encodeJoined(tok, texts);
    expect(ids.length).toBe(want.joinedTokens + 2);
    expect(Array.from(ids)).toEqual([tok.eotId, ...joined, tok.eotId]);
    expect(Array.from(ids)).toEqual(tok.encode(joinTweets(texts), { allowedSpecial: 'all' }));
  });
});

describe('format detection', () => {
  it('tells the five formats apart by content', () => {
    expect(detectFormat('window.YTD.tweets.part0 = [ {\n  "tweet" : { "full_text" : "a" }\n} ]\n')).toBe('tweets.js');
    expect(detectFormat('window.YTD.tweet.part0 = [\n]')).toBe('tweets.js');
    expect(detectFormat('  [ {"full_text": "a"} ]')).toBe('json');
    expect(detectFormat('["a", "b"]')).toBe('json');
    expect(detectFormat('{"text": "a"}\n{"text": "b"}\n')).toBe('jsonl');
    expect(detectFormat('id,created_at,text\n1,x,hello\n')).toBe('csv');
    expect(detectFormat('text\nhello\n')).toBe('csv');
    expect(detectFormat('Full_Text,lang\r\nhello,en\r\n')).toBe('csv');
    expect(detectFormat('hello world, how are you\nsecond tweet\n')).toBe('text');
    expect(detectFormat('[1/3] a thread starts here\n')).toBe('text');
    expect(detectFormat('x = 5 is my favourite equation\n')).toBe('text');
    expect(detectFormat('')).toBe('text');
  });

  it('reads a bare JSON array of tweet objects, {tweet} wrappers or strings', () => {
    const p = parseTweets('[{"tweet": {"full_text": "a &amp; b", "id_str": "1234567890123456789"}}, {"full_text": "c", "retweeted_status": {}}, "d"]');
    expect(p.format).toBe('json');
    expect(p.tweets).toEqual([
      { text: 'a &amp; b', retweetedStatus: false, id: '1234567890123456789' },
      { text: 'c', retweetedStatus: true },
      { text: 'd', retweetedStatus: false },
    ]);
  });

  it('prefers full_text over text (the untruncated one), in JSON and CSV', () => {
    expect(parseTweets('{"text": "short…", "full_text": "the whole tweet"}').tweets[0].text).toBe('the whole tweet');
    expect(parseTweets('text,full_text\nshort…,the whole tweet\n').tweets[0].text).toBe('the whole tweet');
  });

  it('reads plain text one tweet per non-empty line, with CRLF and a BOM', () => {
    const p = parseTweets('\ufefffirst tweet here\r\n\r\n   \nsecond\tone\r\n');
    expect(p.format).toBe('text');
    expect(p.tweets.map((t) => t.text)).toEqual([' first tweet here', 'second\tone']);
    expect(filterTweets(p.tweets).texts).toEqual(['first tweet here']);
  });

  it('reads JSONL with CRLF, blank lines and a BOM', () => {
    const p = parseTweets('\ufeff{"text": "a"}\r\n\r\n{"full_text": "b"}');
    expect(p.tweets.map((t) => t.text)).toEqual(['a', 'b']);
  });

  it('reads CSV with CRLF rows and quoted line breaks', () => {
    const p = parseTweets('id,text\r\n1,"two\r\nlines, and ""quotes"""\r\n2,plain\r\n');
    expect(p.tweets.map((t) => [t.id, t.text])).toEqual([['1', 'two\r\nlines, and "quotes"'], ['2', 'plain']]);
  });

  it('honours an explicit format', () => {
    expect(parseTweets('text\nhello\n', 'f', { format: 'text' }).tweets.map((t) => t.text)).toEqual(['text', 'hello']);
  });
});
