// Tweets archive → training blocks (issue 6, section 3). Typical use:
//   const ds = buildTweetDataset(['a/tweets.js', 'b/tweets.csv'], { nPositions: 1024, validationFraction: 0.1 });
//   for (const block of ds.train.blocks) ...            // Int32Array(blockSize) each
//   card += formatDataTable(ds.users);
export type { TweetFormat, RawTweet, ParsedTweets, ReadOptions } from './formats.ts';
export { detectFormat, parseTweets, readTweetsFile, decodeUtf8 } from './formats.ts';
export type { FilterStats, Filtered } from './clean.ts';
export {
  EOT, MIN_USER_CHARS, FEW_USER_CHARS, PY_WHITESPACE,
  cleanTweet, codePoints, filterTweets, fixText, isBoring, isRetweetText, splitWords,
} from './clean.ts';
export { MIX_STREAM, SPLIT_STREAM, mixUsers, randBelow, shuffleInPlace, splitUsers, splitValidation, totalCodePoints, trainingSequence } from './mix.ts';
export type { TokenBlocks, TokenCache, TweetDataset, TweetDatasetOptions, UserSource, UserStats } from './dataset.ts';
export { buildTweetDataset, cutBlocks, encodeJoined, joinTweets, userNameFromPath } from './dataset.ts';
export type { TableRow } from './table.ts';
export { formatDataTable } from './table.ts';
export type { DataErrorWhere } from './errors.ts';
export { TweetDataError } from './errors.ts';
export type { CsvRecord } from './csv.ts';
export { CsvSyntaxError, formatCsv, formatCsvRow, parseCsv } from './csv.ts';
