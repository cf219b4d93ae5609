// A one-line download progress bar on a terminal (stderr), redrawn at most 10 times a second:
//   config.json  [=========>          ]  48%  12.3/25.6 MB  3.1 MB/s
// Nothing is drawn when the stream is not a TTY (the CLI passes none then).

export interface ProgressSink {
  start(label: string, total: number | null, done: number): void;
  update(done: number): void;
  finish(): void;
}

const MB = 1e6;

/** Where the bar is drawn (process.stderr); structural, so the public types need no Node typings. */
export interface TextSink {
  write(text: string): unknown;
}

export class ProgressBar implements ProgressSink {
  #label = '';
  #total: number | null = null;
  #done = 0;
  #t0 = 0;
  #base = 0;
  #last = 0;

  constructor(private readonly out: TextSink, private readonly width = 24) {}

  start(label: string, total: number | null, done: number): void {
    this.#label = label;
    this.#total = total;
    this.#done = this.#base = done;
    this.#t0 = Date.now();
    this.#last = 0;
    this.#draw(true);
  }

  update(done: number): void {
    this.#done = done;
    this.#draw(false);
  }

  finish(): void {
    this.#draw(true);
    this.out.write('\n');
  }

  #draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const secs = Math.max(1e-3, (now - this.#t0) / 1000);
    const rate = (this.#done - this.#base) / secs / MB;
    let bar = '';
    let pct = '';
    if (this.#total) {
      const f = Math.min(1, this.#done / this.#total);
      const full = Math.floor(f * this.width);
      bar = `[${'='.repeat(full)}${full < this.width ? '>' : ''}${' '.repeat(Math.max(0, this.width - full - 1))}] `;
      pct = `${String(Math.floor(f * 100)).padStart(3)}%  `;
    }
    const sizes = `${(this.#done / MB).toFixed(1)}${this.#total ? `/${(this.#total / MB).toFixed(1)}` : ''} MB`;
    this.out.write(`\r${this.#label}  ${bar}${pct}${sizes}  ${rate.toFixed(1)} MB/s\x1b[K`);
  }
}
