// Positioned reads from a file descriptor, and the error type of the PyTorch checkpoint reader.
// Everything here reads exactly what it is asked for or throws: a short read means the file is
// truncated (or changed while reading), which is reported, never papered over with zeros.

import * as fs from 'node:fs';

/** A malformed, truncated, unsafe or unsupported PyTorch checkpoint. The message names the file. */
export class TorchFormatError extends Error {
  override name = 'TorchFormatError';
}

/** largest single fs.readSync (its length argument must fit an int32) */
const MAX_READ = 1 << 30;

/** Fill `dest` from absolute file offset `pos`; `what` prefixes the error message. */
export function readExactAt(fd: number, dest: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < dest.byteLength) {
    let n: number;
    try {
      n = fs.readSync(fd, dest, done, Math.min(dest.byteLength - done, MAX_READ), pos + done);
    } catch (e) {
      throw new TorchFormatError(`${what}: read failed: ${(e as Error).message}`, { cause: e });
    }
    if (n === 0) throw new TorchFormatError(`${what}: unexpected end of file at byte ${pos + done}`);
    done += n;
  }
}

/** Open a regular file for reading; returns its descriptor and size. */
export function openRegular(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new TorchFormatError(`${path}: cannot open: ${(e as Error).message}`, { cause: e });
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new TorchFormatError(`${path}: not a regular file`);
  }
  return { fd, size: st.size };
}

/** A 64-bit little-endian unsigned integer as a safe JS number, or an error naming the field. */
export function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TorchFormatError(`${what} is ${v}, beyond any file this reader accepts`);
  return Number(v);
}
