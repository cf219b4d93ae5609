// One error type for every problem with a tweets file, so the CLI can print it as one line:
//   "<file>: line 12, column 5: invalid JSON: expected ',' or '}' after a member"
//   "<file>: record 17 (line 412): no full_text or text string in the tweet"

export interface DataErrorWhere {
  /** 1-based line in the file */
  line?: number;
  /** 1-based column (UTF-16 units) on that line */
  column?: number;
  /** 1-based index of the record (tweet) in the file */
  record?: number;
}

export class TweetDataError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly record: number | undefined;

  constructor(file: string, where: DataErrorWhere, what: string) {
    super(`${file}${describeWhere(where)}: ${what}`);
    this.name = 'TweetDataError';
    this.file = file;
    this.line = where.line;
    this.column = where.column;
    this.record = where.record;
  }
}

function describeWhere(w: DataErrorWhere): string {
  const at = w.line === undefined ? '' : `line ${w.line}${w.column === undefined ? '' : `, column ${w.column}`}`;
  if (w.record !== undefined) return `: record ${w.record}${at ? ` (${at})` : ''}`;
  return at ? `: ${at}` : '';
}

/** 1-based line and column of a UTF-16 offset in text (only called to report an error). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
