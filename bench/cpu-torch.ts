// Client for bench/torch_cpu.py: one long-lived Python process answering JSON-lines requests, so
// PyTorch timings interleave with the engine's in the same run.
//
// PyTorch's threads are set the way that gives it its best CPU numbers here: OMP_WAIT_POLICY=PASSIVE
// (idle OpenMP threads sleep instead of spinning against our workers), OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS = the thread count, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, all in
// the child's environment before torch is imported.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export class TorchServer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private stderr = '';

  private constructor(python: string, threads: number) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'OPENBLAS_CORETYPE' && k !== 'OPENBLAS_L2_SIZE') env[k] = v;
    Object.assign(env, { OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) });
    const script = fileURLToPath(new URL('./torch_cpu.py', import.meta.url));
    this.proc = spawn(python, [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d: string) => { this.stderr += d; });
  }

  /** A server, or a reason there is none (no python3 with torch). */
  static async start(python = '/usr/bin/python3', threads = 2): Promise<TorchServer | string> {
    if (!existsSync(python)) return `${python} not found`;
    const s = new TorchServer(python, threads);
    try {
      await s.request({ op: 'info' });
      return s;
    } catch (e) {
      s.close();
      return `PyTorch unavailable: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  request<T = Record<string, unknown>>(req: object): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`python exited: ${this.stderr.trim().split('\n').pop() ?? ''}`));
      this.proc.once('exit', onExit);
      this.waiting.push((line) => {
        this.proc.off('exit', onExit);
        const r = JSON.parse(line) as T & { error?: string };
        if (r.error) reject(new Error(r.error));
        else resolve(r);
      });
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  close(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}
