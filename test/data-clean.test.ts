// The huggingtweets cleaning rules (src/train/data/clean.ts), rule by rule, and properties of the
// cleaner with fast-check: idempotent, never leaves double spaces or URLs, and equal to the
// notebook's own five-regex clean_tweet wherever no URL is glued to the word before it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PY_WHITESPACE, cleanTweet, codePoints, filterTweets, fixText, isBoring, isRetweetText, splitWords,
} from '../src/train/data/index.ts';

const PY_WS = new RegExp(`[${PY_WHITESPACE}]`);

/**
 * The notebook's clean_tweet (huggingtweets-demo.ipynb, ALLOW_NEW_LINES = False), ported regex by
 * regex with Python's \S, as a reference for the property below.
 */
function notebookCleanTweet(tweet: string): string {
  const S = `[^${PY_WHITESPACE}]`;
  for (const w of ['http:', 'https:']) {
    for (const pat of [` ${w}${S}+`, `${w}${S}+ `, `\n${w}${S}+ `, `\n${w}${S}+`, `${w}${S}+`]) {
      tweet = tweet.replace(new RegExp(pat, 'g'), '');
    }
  }
  tweet = tweet.replace(/ +/g, ' ');
  tweet = splitWords(tweet).join(' '); // ' '.join(tweet.split())
  return tweet; // .strip() is a no-op after the join
}

describe('the rules, one by one', () => {
  it('1. a retweet is text starting "RT @" (or a retweeted_status)', () => {
    expect(isRetweetText('RT @someone: hello there friend')).toBe(true);
    expect(isRetweetText(' RT @someone: leading space')).toBe(false);
    expect(isRetweetText('RT someone said')).toBe(false);
    expect(isRetweetText('rt @someone lowercase')).toBe(false);
    const r = filterTweets([
      { text: 'RT @a: one two three four' },
      { text: 'a plain tweet of words', retweetedStatus: true },
      { text: 'a plain tweet of words' },
    ]);
    expect(r.stats).toMatchObject({ downloaded: 3, retweets: 2, short: 0, kept: 1 });
  });

  it('2. decodes &amp; then &lt; then &gt;, and nothing else', () => {
    expect(fixText('a &amp; b &lt;3 &gt; c')).toBe('a & b <3 > c');
    expect(fixText('&quot;&#39;&nbsp;&AMP;')).toBe('&quot;&#39;&nbsp;&AMP;');
    // the notebook's order decodes a double escape once more, as it did
    expect(fixText('&amp;lt;')).toBe('<');
    expect(fixText('&amp;amp;')).toBe('&amp;');
  });

  it('3. deletes http:/https: URLs up to the next whitespace, with the space around them', () => {
    expect(cleanTweet('look https://t.co/AbCdEfGhIj now')).toBe('look now');
    expect(cleanTweet('https://t.co/AbCdEfGhIj at the start')).toBe('at the start');
    expect(cleanTweet('at the end https://t.co/AbCdEfGhIj')).toBe('at the end');
    expect(cleanTweet('after a blank line\n\nhttps://t.co/AbCdEfGhIj')).toBe('after a blank line');
    expect(cleanTweet('two http://a.b/c https://t.co/x urls')).toBe('two urls');
    expect(cleanTweet('(https://t.co/x) bracket')).toBe('( bracket');
    expect(cleanTweet('HTTPS://t.co/x is not matched (case-sensitive, as re.sub)')).toBe('HTTPS://t.co/x is not matched (case-sensitive, as re.sub)');
    expect(cleanTweet('bare http: alone stays')).toBe('bare http: alone stays');
    expect(cleanTweet('ftp://x.y stays')).toBe('ftp://x.y stays');
  });

  it('3. differs from the notebook only for a URL glued to the word before it', () => {
    expect(cleanTweet('see:https://t.co/x now')).toBe('see: now');
    expect(notebookCleanTweet('see:https://t.co/x now')).toBe('see:now');
    for (const t of ['look https://t.co/x now', 'https://t.co/x at start', 'end\nhttps://t.co/x', 'a\nhttps://t.co/x b', 'a\thttps://t.co/x\tb']) {
      expect(cleanTweet(t)).toBe(notebookCleanTweet(t));
    }
  });

  it("4. collapses Python's whitespace (newlines, tabs, NBSP, U+3000, U+001C…) to one space and strips", () => {
    expect(cleanTweet('  a\n\nb\t c\r\n')).toBe('a b c');
    expect(cleanTweet('a\u00a0b\u3000c\u2028d\x1ce\x85f')).toBe('a b c d e f');
    // U+FEFF is whitespace to JS's \s but not to Python: it stays
    expect(cleanTweet('a\ufeffb')).toBe('a\ufeffb');
    expect(cleanTweet('a\u200bb')).toBe('a\u200bb'); // zero-width space is not whitespace either
  });

  it('5. boring: fewer than 3 words free of http, @ and # (case-insensitive)', () => {
    expect(isBoring('')).toBe(true);
    expect(isBoring('one')).toBe(true);
    expect(isBoring('one two')).toBe(true);
    expect(isBoring('one two three')).toBe(false);
    expect(isBoring('@a @b one two')).toBe(true);
    expect(isBoring('@a one two three')).toBe(false);
    expect(isBoring('#tag one two')).toBe(true);
    expect(isBoring('HTTPd and two')).toBe(true); // "HTTPd" contains http once lowercased
    expect(isBoring('me@home is fine')).toBe(true);
    expect(isBoring('Or move to!!')).toBe(false);
  });

  it('mentions and hashtags stay in the kept text; counts add up', () => {
    const r = filterTweets([
      { text: '@friend you are so right about that' },
      { text: 'words &amp; more words #tag' },
      { text: 'two words' },
      { text: 'https://t.co/AbCdEfGhIj' },
      { text: 'RT @x: whatever it is they said' },
    ]);
    expect(r.texts).toEqual(['@friend you are so right about that', 'words & more words #tag']);
    expect(r.stats).toEqual({
      downloaded: 5, retweets: 1, short: 2, kept: 2,
      keptChars: 35 + 23, joinedChars: 35 + 23 + 13,
    });
  });

  it('counts code points as Python len() does', () => {
    expect(codePoints('abc')).toBe(3);
    expect(codePoints('😀 é')).toBe(3);
    expect(codePoints('\ud800x\udc00')).toBe(3); // lone surrogates count one each
  });
});

// Text made of the pieces that matter to the cleaner, so that the properties meet URLs, entities,
// mentions and every kind of whitespace often.
const piece = fc.constantFrom(
  'a', 'word', 'Été', '😀', '@user', '#tag', 'http', 'https', 'http:', 'https:', '//t.co/Ab12', 'http://x.y/z',
  'https://t.co/AbCdEfGhIj', 'htt', 'p:', 's:', '&amp;', '&lt;', '&gt;', '&', ';', 'RT @', ' ', '  ', '\n', '\r\n', '\t',
  '\u00a0', '\u3000', '\u2028', '\x1c', '\x85', '\ufeff', ':', '(', ')', '"', ',',
);
const tweetText = fc.array(piece, { maxLength: 30 }).map((a) => a.join(''));
const anyText = fc.oneof(tweetText, fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));

describe('cleaner properties', () => {
  it('is idempotent on cleaned text', () => {
    fc.assert(fc.property(anyText, (s) => {
      const once = cleanTweet(s);
      expect(cleanTweet(once)).toBe(once);
      // the whole text step (decode, then clean) too, where no entity is left to decode twice
      const prepared = cleanTweet(fixText(s));
      if (!/&(amp|lt|gt);/.test(prepared)) expect(cleanTweet(fixText(prepared))).toBe(prepared);
    }), { numRuns: 3000 });
  });

  it('never leaves double spaces, other whitespace, stripped ends or a URL', () => {
    fc.assert(fc.property(anyText, (s) => {
      const c = cleanTweet(fixText(s));
      expect(c).not.toContain('  ');
      expect(c.startsWith(' ') || c.endsWith(' ')).toBe(false);
      expect(PY_WS.test(c.replaceAll(' ', ''))).toBe(false);
      expect(/https?:[^ ]/.test(c)).toBe(false);
    }), { numRuns: 3000 });
  });

  it("equals the notebook's clean_tweet wherever no URL is glued to a preceding character", () => {
    const glued = new RegExp(`[^${PY_WHITESPACE}]https?:[^${PY_WHITESPACE}]`);
    fc.assert(fc.property(tweetText, (s) => {
      fc.pre(!glued.test(s));
      expect(cleanTweet(s)).toBe(notebookCleanTweet(s));
    }), { numRuns: 3000 });
  });

  it('keeps only non-boring texts, and the counts always add up', () => {
    fc.assert(fc.property(fc.array(tweetText, { maxLength: 20 }), (texts) => {
      const r = filterTweets(texts.map((text) => ({ text })));
      for (const t of r.texts) expect(isBoring(t)).toBe(false);
      expect(r.stats.retweets + r.stats.short + r.stats.kept).toBe(texts.length);
      expect(r.stats.keptChars).toBe(r.texts.reduce((n, t) => n + codePoints(t), 0));
    }), { numRuns: 500 });
  });
});
