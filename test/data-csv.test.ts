// The RFC 4180 CSV reader and writer (src/train/data/csv.ts): quoting, doubled quotes, raw line
// breaks inside quoted fields, CRLF, strict errors with their line, and a fast-check round trip.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvSyntaxError, formatCsv, formatCsvRow, parseCsv } from '../src/train/data/index.ts';

const rows = (text: string) => [...parseCsv(text)].map((r) => r.fields);

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and raw line breaks', () => {
    const text = 'id,text\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,\n';
    expect(rows(text)).toEqual([['id', 'text'], ['1', 'a, b'], ['2', 'say "hi"'], ['3', 'two\nlines'], ['4', '']]);
    expect([...parseCsv(text)].map((r) => r.line)).toEqual([1, 2, 3, 4, 6]);
  });

  it('accepts CRLF and a missing final line end; keeps a lone CR inside a field', () => {
    expect(rows('a,b\r\n1,2')).toEqual([['a', 'b'], ['1', '2']]);
    expect(rows('a\rb,c\n')).toEqual([['a\rb', 'c']]);
    expect(rows('"x\r\ny",z\r\n')).toEqual([['x\r\ny', 'z']]);
  });

  it('skips blank lines but keeps a quoted empty field', () => {
    expect(rows('a\n\n\nb\n""\n')).toEqual([['a'], ['b'], ['']]);
  });

  it('keeps empty fields, also at the end of a row', () => {
    expect(rows(',,\n"",x,\n')).toEqual([['', '', ''], ['', 'x', '']]);
  });

  it('reports the line of a quote never closed, a stray quote, and text after a closing quote', () => {
    const err = (text: string) => {
      try {
        rows(text);
      } catch (e) {
        if (e instanceof CsvSyntaxError) return `${e.line}:${e.column} ${e.message}`;
        throw e;
      }
      return 'no error';
    };
    expect(err('a,b\n1,"open\n\nstill open\n')).toMatch(/^2:3 quoted field is never closed/);
    expect(err('a,b\n1,x"y\n')).toMatch(/^2:4 a " inside an unquoted field/);
    expect(err('a,b\n1,"q"x\n')).toMatch(/^2:6 unexpected "x" after a closing quote/);
    expect(err('a\n"multi\nline" ,x\n')).toMatch(/^3:6 unexpected " " after a closing quote/);
  });
});

describe('formatCsv', () => {
  it('quotes only what needs quoting', () => {
    expect(formatCsvRow(['plain', 'a,b', 'q"q', 'l\nl', 'c\rr', ''])).toBe('plain,"a,b","q""q","l\nl","c\rr",');
    expect(formatCsvRow([''])).toBe('""');
  });

  it('round-trips random rows of fields with commas, quotes, CR and LF', () => {
    const field = fc.array(fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r', '\r\n', 'é', '😀', '""', ',"'), { maxLength: 8 }).map((a) => a.join(''));
    const table = fc.array(fc.array(fc.oneof(field, fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 5 }), { maxLength: 8 });
    fc.assert(fc.property(table, (t) => {
      expect(rows(formatCsv(t))).toEqual(t);
    }), { numRuns: 2000 });
  });
});
