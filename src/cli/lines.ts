// Streaming input helpers: split a byte stream into lines without reading ahead (the next chunk is
// pulled only when the consumer asks), and parse `{"text": ...}` JSONL lines with line numbers.

/** Yield each line (without its \n or \r\n) of a stream, decoding UTF-8 across chunk edges. */
export async function* readLines(stream: NodeJS.ReadableStream): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of stream) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
    let nl = rest.indexOf('\n');
    let start = 0;
    while (nl >= 0) {
      const line = rest.slice(start, nl);
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
      start = nl + 1;
      nl = rest.indexOf('\n', start);
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest.length) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

/** The "text" of one JSONL line; errors name the line number (1-based). */
export function jsonlText(line: string, lineNo: number, key = 'text'): string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new Error(`line ${lineNo}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`line ${lineNo}: expected a JSON object with a "${key}" string`);
  const v = (obj as Record<string, unknown>)[key];
  if (typeof v !== 'string') throw new Error(`line ${lineNo}: "${key}" must be a string, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return v;
}
