// The "Training data" table of the huggingtweets model card (model_card/README.md): one column
// per user, the rows Tweets downloaded / Retweets / Short tweets / Tweets kept.
//   | Data              | unixsage | grandmasaid |
//   |-------------------|----------|-------------|
//   | Tweets downloaded | 2100     | 2300        |
//   ...

export interface TableRow {
  user: string;
  downloaded: number;
  retweets: number;
  short: number;
  kept: number;
}

/** The Markdown table for the model card (no trailing newline); columns padded for reading as text. */
export function formatDataTable(stats: readonly TableRow[]): string {
  if (stats.length === 0) throw new Error('formatDataTable: no users');
  const rows: string[][] = [
    ['Data', ...stats.map((s) => s.user.replaceAll('|', '\\|'))],
    ['Tweets downloaded', ...stats.map((s) => String(s.downloaded))],
    ['Retweets', ...stats.map((s) => String(s.retweets))],
    ['Short tweets', ...stats.map((s) => String(s.short))],
    ['Tweets kept', ...stats.map((s) => String(s.kept))],
  ];
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map((r) => r[c].length)));
  const line = (r: readonly string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}
