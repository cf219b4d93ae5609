// UTF-8 bytes of a slice of a JS string, written straight out as one-byte token ids (the symbols
// BPE starts from). A lone surrogate becomes U+FFFD (EF BF BD), exactly as TextEncoder does.

/**
 * Writes the byte tokens of text[start, end) into out (capacity ≥ 3·(end − start)) and returns
 * their count.
 */
export function utf8Symbols(text: string, start: number, end: number, byteToken: Int32Array, out: Int32Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = byteToken[c];
      continue;
    }
    if (c < 0x800) {
      out[n++] = byteToken[0xc0 | (c >> 6)];
      out[n++] = byteToken[0x80 | (c & 63)];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        out[n++] = byteToken[0xf0 | (cp >> 18)];
        out[n++] = byteToken[0x80 | ((cp >> 12) & 63)];
        out[n++] = byteToken[0x80 | ((cp >> 6) & 63)];
        out[n++] = byteToken[0x80 | (cp & 63)];
        i++;
        continue;
      }
      c = 0xfffd; // lone surrogate
    }
    out[n++] = byteToken[0xe0 | (c >> 12)];
    out[n++] = byteToken[0x80 | ((c >> 6) & 63)];
    out[n++] = byteToken[0x80 | (c & 63)];
  }
  return n;
}
