// CSV as RFC 4180 says: fields separated by ',', records by LF or CRLF; a field that holds ',',
// '"', CR or LF is enclosed in double quotes, with inner quotes doubled. Quoted fields may hold raw
// line breaks (tweets with newlines do), so a record can span several lines.
// Strict where a lenient parser would guess: a quote inside an unquoted field, text after a
// closing quote, or a quote left open at the end of the file is an error with its line.

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'CsvSyntaxError';
  }
}

export interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts */
  line: number;
}

/**
 * The records of a CSV text, from offset start. A blank line (one empty unquoted field) is
 * skipped, as a reader of a hand-edited file expects; write a lone empty field as "".
 */
export function* parseCsv(text: string, start = 0): Generator<CsvRecord> {
  let i = start;
  let line = 1;
  let lineStart = start;
  const n = text.length;
  while (i < n) {
    const recordLine = line;
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      // one field, starting at i
      let value: string;
      if (text.charCodeAt(i) === 0x22) {
        quotedAny = true;
        const openLine = line, openCol = i - lineStart + 1;
        let parts = '';
        let from = i + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) throw new CsvSyntaxError(openLine, openCol, 'quoted field is never closed (a " is missing)');
          const chunk = text.slice(from, q);
          for (let k = chunk.indexOf('\n'); k >= 0; k = chunk.indexOf('\n', k + 1)) {
            line++;
            lineStart = from + k + 1;
          }
          parts += chunk;
          if (text.charCodeAt(q + 1) === 0x22) {
            parts += '"'; // "" is one quote
            from = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        value = parts;
        const c = text.charCodeAt(i);
        if (i < n && c !== 0x2c && c !== 0x0a && !(c === 0x0d && text.charCodeAt(i + 1) === 0x0a)) {
          throw new CsvSyntaxError(line, i - lineStart + 1, `unexpected ${JSON.stringify(text[i])} after a closing quote (expected ',' or a line end)`);
        }
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === 0x2c || c === 0x0a || (c === 0x0d && text.charCodeAt(j + 1) === 0x0a)) break;
          if (c === 0x22) throw new CsvSyntaxError(line, j - lineStart + 1, 'a " inside an unquoted field (quote the field and double the quote)');
        }
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        continue;
      }
      i += c === 0x0d ? 2 : 1; // CRLF or LF ends the record
      line++;
      lineStart = i;
      break;
    }
    if (fields.length === 1 && fields[0] === '' && !quotedAny) continue; // blank line
    yield { fields, line: recordLine };
  }
}

/** One CSV record (no line end): fields with ',', '"', CR or LF are quoted, quotes doubled. */
export function formatCsvRow(fields: readonly string[]): string {
  if (fields.length === 1 && fields[0] === '') return '""'; // else it reads back as a blank line
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}

/** Rows as a CSV text, each ended by LF. */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => formatCsvRow(r) + '\n').join('');
}
