// Encoding text that arrives in pieces (stdin, a file read in chunks) with the exact result of
// encoding it all at once, in memory bounded by the longest run without a safe cut. Input is cut
// only where a whitespace character follows a non-whitespace one (pretokenize.ts lastSafeCut):
// a pre-token boundary whatever comes after, and never inside <|endoftext|>.

import { lastSafeCut } from './pretokenize.ts';

export class StreamEncoder {
  private parts: string[] = []; // text not yet encoded, in order; no safe cut inside it
  private last = ''; // its last UTF-16 unit

  constructor(private readonly encodeText: (text: string) => number[]) {}

  /** Add text; returns the ids of everything up to the last safe cut so far. */
  push(chunk: string): number[] {
    if (chunk === '') return [];
    // search the new chunk, with the unit before it, for the last safe cut
    const k = lastSafeCut(this.last + chunk, 1, this.last.length + chunk.length) - this.last.length;
    this.last = chunk.charAt(chunk.length - 1);
    if (k < 0) {
      this.parts.push(chunk);
      return [];
    }
    this.parts.push(chunk.slice(0, k));
    const head = this.parts.join('');
    this.parts = [chunk.slice(k)];
    return this.encodeText(head);
  }

  /** End of input: the ids of what is left. The encoder can then be reused. */
  flush(): number[] {
    const rest = this.parts.join('');
    this.parts = [];
    this.last = '';
    return this.encodeText(rest);
  }
}
