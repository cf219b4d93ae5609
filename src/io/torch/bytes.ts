// Byte sources for the pickle reader: a buffer in memory (a zip entry), or a window of a file read
// through a small rolling buffer (the legacy format, whose pickles sit at the start of a large file).
// Both throw on reads past their end, before allocating anything for a length they cannot satisfy,
// so a crafted length prefix cannot make the reader allocate more than the input holds.

import { TorchFormatError, readExactAt } from './fileio.ts';

export interface ByteSource {
  /** absolute position of the next byte (for error messages) */
  readonly pos: number;
  /** bytes left before the end of the source */
  remaining(): number;
  byte(): number;
  /** the next n bytes (a view or a copy; callers must not keep views past the next read) */
  bytes(n: number): Uint8Array;
  /** bytes up to (not including) the next '\n', which is consumed; at most `max` bytes */
  line(max: number): Uint8Array;
}

function short(what: string, pos: number, want: number, left: number): TorchFormatError {
  return new TorchFormatError(`${what}: needs ${want} more bytes at byte ${pos}, only ${left} left (truncated?)`);
}

export class BufferSource implements ByteSource {
  #p = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string, private readonly base = 0) {}

  get pos(): number {
    return this.base + this.#p;
  }

  remaining(): number {
    return this.buf.length - this.#p;
  }

  byte(): number {
    if (this.#p >= this.buf.length) throw short(this.what, this.pos, 1, 0);
    return this.buf[this.#p++];
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining()) throw short(this.what, this.pos, n, this.remaining());
    const out = this.buf.subarray(this.#p, this.#p + n);
    this.#p += n;
    return out;
  }

  line(max: number): Uint8Array {
    const end = this.buf.indexOf(0x0a, this.#p);
    if (end < 0 || end - this.#p > max) throw new TorchFormatError(`${this.what}: unterminated or over-long text line at byte ${this.pos}`);
    const out = this.buf.subarray(this.#p, end);
    this.#p = end + 1;
    return out;
  }
}

/** A file window [start, end) read forwards through a 64 KiB buffer. */
export class FileSource implements ByteSource {
  #pos: number;
  #buf = new Uint8Array(0);
  #bufStart = 0;

  constructor(private readonly fd: number, start: number, private readonly end: number, private readonly what: string) {
    this.#pos = start;
  }

  get pos(): number {
    return this.#pos;
  }

  remaining(): number {
    return this.end - this.#pos;
  }

  byte(): number {
    if (this.#pos >= this.end) throw short(this.what, this.#pos, 1, 0);
    if (this.#pos >= this.#bufStart + this.#buf.length) this.#fill();
    return this.#buf[this.#pos++ - this.#bufStart];
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining()) throw short(this.what, this.#pos, n, this.remaining());
    const out = new Uint8Array(n);
    let done = 0;
    // what the buffer holds, then the rest straight from the file
    const inBuf = this.#bufStart + this.#buf.length - this.#pos;
    if (inBuf > 0) {
      const k = Math.min(inBuf, n);
      out.set(this.#buf.subarray(this.#pos - this.#bufStart, this.#pos - this.#bufStart + k));
      done = k;
    }
    if (done < n) readExactAt(this.fd, out.subarray(done), this.#pos + done, this.what);
    this.#pos += n;
    return out;
  }

  line(max: number): Uint8Array {
    const out: number[] = [];
    for (;;) {
      const b = this.byte();
      if (b === 0x0a) return Uint8Array.from(out);
      if (out.length >= max) throw new TorchFormatError(`${this.what}: over-long text line at byte ${this.#pos}`);
      out.push(b);
    }
  }

  #fill(): void {
    const n = Math.min(1 << 16, this.end - this.#pos);
    this.#buf = new Uint8Array(n);
    readExactAt(this.fd, this.#buf, this.#pos, this.what);
    this.#bufStart = this.#pos;
  }
}
