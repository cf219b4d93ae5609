// Cleaning and filtering as the huggingtweets notebook did (borisdayma/huggingtweets,
// huggingtweets-demo.ipynb: fix_text, clean_tweet with ALLOW_NEW_LINES = False, boring_tweet), in
// its order:
//   1. drop retweets: a `retweeted_status`, or text starting "RT @" (the notebook's tweet server
//      left them out and reported their count as n_RT)
//   2. fix_text: '&amp;' → '&', then '&lt;' → '<', then '&gt;' → '>' (only these three, in this
//      order, so "&amp;lt;" becomes "<" as it did there)
//   3. delete every http:/https: URL up to the next whitespace
//   4. collapse every run of whitespace, newlines included, to one space, and strip the ends
//   5. drop "boring" (short) tweets: fewer than 3 whitespace-separated words free of 'http', '@'
//      and '#' (case-insensitive). Mentions and hashtags stay in the kept text.
// Whitespace is Python's (str.split / \s / str.strip), which the notebook used: JS's \s differs
// (it has U+FEFF, lacks U+001C–U+001F and U+0085).
//
// Step 3 and the notebook: clean_tweet ran five regexes per scheme (" https:\S+", "https:\S+ ",
// "\nhttps:\S+ ", "\nhttps:\S+", "https:\S+") — deleting each URL "with its surrounding space" —
// then collapsed whitespace. After step 4 that equals deleting the URL up to the next whitespace
// (the tweets README's reference filter) for every URL that follows whitespace or starts the text:
// on both fixture archives the two give identical texts. They differ only for a URL glued to the
// word before it and followed by a space ("see:https://t.co/x now"): the notebook joined the words
// ("see:now"), we keep them apart ("see: now"), which also makes the cleaning idempotent.

/** Python's str.isspace() characters (the same set as re's \s for str patterns) */
export const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${PY_WHITESPACE}]+`, 'g');
const EDGE_WS = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g');
const URL = new RegExp(`https?:[^${PY_WHITESPACE}]+`, 'g');
const BORING = ['http', '@', '#'];

/** minimum code points a user's kept tweets must have, joined by <|endoftext|> (the notebook's check) */
export const MIN_USER_CHARS = 6000;
/** below this the notebook warned "this user does not have many tweets" */
export const FEW_USER_CHARS = 40000;
export const EOT = '<|endoftext|>';

/** the notebook's retweet test on the raw text */
export function isRetweetText(text: string): boolean {
  return text.startsWith('RT @');
}

/** huggingtweets' fix_text: the three entities Twitter escapes, in this order */
export function fixText(text: string): string {
  return text.replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
}

/** Steps 3–4: URLs deleted, whitespace collapsed to single spaces, ends stripped. */
export function cleanTweet(text: string): string {
  return text.replace(URL, '').replace(WS_RUN, ' ').replace(EDGE_WS, '');
}

/** Python's str.split(): the words between runs of whitespace */
export function splitWords(text: string): string[] {
  const t = text.replace(EDGE_WS, '');
  return t === '' ? [] : t.split(WS_RUN);
}

/** huggingtweets' boring_tweet: fewer than 3 words without 'http', '@' or '#' */
export function isBoring(text: string): boolean {
  let plain = 0;
  for (const w of splitWords(text)) {
    const lw = w.toLowerCase();
    if (!BORING.some((b) => lw.includes(b)) && ++plain >= 3) return false;
  }
  return true;
}

/** Unicode code points, as Python's len() counts them (a lone surrogate counts as one) */
export function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The seed card's counts for one user, plus the character counts of what is kept. */
export interface FilterStats {
  /** tweets in the file ("Tweets downloaded") */
  downloaded: number;
  /** dropped in step 1 */
  retweets: number;
  /** dropped in step 5 ("Short tweets" = downloaded − retweets − kept, as the notebook counted) */
  short: number;
  /** left after all steps ("Tweets kept") */
  kept: number;
  /** code points of the kept, cleaned texts */
  keptChars: number;
  /** code points of the kept texts joined with <|endoftext|> (what the 6000-character check measures) */
  joinedChars: number;
}

export interface Filtered {
  /** the kept, cleaned texts, in file order */
  texts: string[];
  stats: FilterStats;
}

/** Steps 1–5 over one user's tweets. */
export function filterTweets(tweets: readonly { text: string; retweetedStatus?: boolean }[]): Filtered {
  const texts: string[] = [];
  let retweets = 0;
  let keptChars = 0;
  for (const t of tweets) {
    if (t.retweetedStatus || isRetweetText(t.text)) {
      retweets++;
      continue;
    }
    const clean = cleanTweet(fixText(t.text));
    if (isBoring(clean)) continue;
    texts.push(clean);
    keptChars += codePoints(clean);
  }
  const kept = texts.length;
  const stats: FilterStats = {
    downloaded: tweets.length,
    retweets,
    short: tweets.length - retweets - kept,
    kept,
    keptChars,
    joinedChars: kept === 0 ? 0 : keptChars + (kept - 1) * EOT.length,
  };
  return { texts, stats };
}
