// Token-by-token decoding for generation output: push ids as they come and get back only text
// that ends on a whole UTF-8 character; bytes of a character split across tokens wait for the
// rest. Built on TextDecoder's streaming mode, whose output, concatenated, is by definition the
// one-shot decode of all the bytes (invalid sequences become U+FFFD the same way). A leading BOM
// is kept, as in Tokenizer.decode.

export interface TokenBytesSource {
  /** the bytes of one token (a view; not modified); throws RangeError for a bad id */
  tokenBytesView(id: number): Uint8Array;
}

export class StreamDecoder {
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly source: TokenBytesSource) {}

  /** Add one token; returns the text completed by it (possibly ''). */
  push(id: number): string {
    return this.decoder.decode(this.source.tokenBytesView(id), { stream: true });
  }

  /** End of the stream: returns what is left (U+FFFD for an unfinished character) and resets. */
  flush(): string {
    return this.decoder.decode();
  }
}
