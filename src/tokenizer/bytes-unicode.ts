// GPT-2's reversible byte ↔ unicode-character table (openai/gpt-2 src/encoder.py `bytes_to_unicode`).
// encoder.json and vocab.bpe spell every token as a string of these 256 characters, one per byte:
// printable Latin-1 bytes stand for themselves, and the other 68 bytes (controls, space, 0x7F–0xA0,
// 0xAD) are moved to U+0100.. so no token string contains whitespace or a control character.
// e.g. byte 0x20 (space) ↔ 'Ġ' (U+0120), byte 0x0A (newline) ↔ 'Ċ' (U+010A).

/** BYTE_TO_CHAR[b] = the code point that spells byte b in encoder.json / vocab.bpe */
export const BYTE_TO_CHAR: Uint16Array = (() => {
  const table = new Uint16Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = printable(b) ? b : next++;
  return table;
})();

/** CHAR_TO_BYTE[c] = the byte spelled by code point c (c < 324), or -1 for a character outside the table */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(324).fill(-1);
  for (let b = 0; b < 256; b++) table[BYTE_TO_CHAR[b]] = b;
  return table;
})();

/** The bytes a token string stands for, or null when it uses a character outside the table. */
export function tokenStringToBytes(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

/** The token string for a run of bytes (inverse of tokenStringToBytes). */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(BYTE_TO_CHAR[bytes[i]]);
  return s;
}
