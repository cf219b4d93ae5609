// PyTorch as a peer for the WebGPU benchmark (`--torch`): the same matmul shapes through cuBLAS in
// FP32 with TF32 off (or torch's CPU path where there is no CUDA), and an eager GPT-2 124M (random
// weights, KV cache concatenated per step as Hugging Face's eager path does) for prefill and greedy
// decode tokens/s. Runs $GPT2TS_PYTHON, or the first of `python3` and `/usr/bin/python3` that has torch, with the script below on stdin; the job and
// the answer travel as JSON. Returns null, with the reason, when torch is not there.

import { spawnSync } from 'node:child_process';

export interface TorchJob {
  matmul: [number, number, number, boolean][]; // M, K, N, transW
  e2e: { prefillT: number; decodeSteps: number } | null;
}

export interface TorchResult {
  device: string;
  torch: string;
  matmul: { shape: [number, number, number, boolean]; ms: number }[];
  e2e: { prefillMs: number; prefillT: number; decodeMs: number } | null;
}

const SCRIPT = String.raw`
import json, math, sys, time
import torch
import torch.nn.functional as F
job = json.load(sys.stdin)
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cuda.matmul.allow_tf32 = False   # FP32 cuBLAS, as the comparison asks
torch.backends.cudnn.allow_tf32 = False
def sync():
    if dev == 'cuda': torch.cuda.synchronize()
def bench(fn, target=0.3):
    fn(); sync()
    t = time.perf_counter(); fn(); sync(); once = time.perf_counter() - t
    reps = max(1, min(200, int(target / max(once, 1e-6))))
    best = float('inf')
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps): fn()
        sync(); best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e3
name = torch.cuda.get_device_name() if dev == 'cuda' else 'cpu (%d threads)' % torch.get_num_threads()
out = {'device': name, 'torch': torch.__version__, 'matmul': [], 'e2e': None}
with torch.no_grad():
    for M, K, N, tw in job['matmul']:
        x = torch.randn(M, K, device=dev)
        w = torch.randn(N, K, device=dev) if tw else torch.randn(K, N, device=dev)
        f = (lambda: x @ w.t()) if tw else (lambda: x @ w)
        out['matmul'].append({'shape': [M, K, N, tw], 'ms': bench(f)})
    if job['e2e']:
        C, L, NH, V, P = 768, 12, 12, 50257, 1024
        hs = C // NH
        gen = torch.Generator().manual_seed(0)
        rnd = lambda *s: (torch.randn(*s, generator=gen) * 0.02).to(dev)
        one, zero = torch.ones(C, device=dev), torch.zeros(C, device=dev)
        wte, wpe = rnd(V, C), rnd(P, C)
        blocks = [dict(aw=rnd(C, 3 * C), ab=rnd(3 * C), pw=rnd(C, C), pb=rnd(C), fw=rnd(C, 4 * C), fb=rnd(4 * C), qw=rnd(4 * C, C), qb=rnd(C)) for _ in range(L)]
        def forward(ids, cache, pos0):
            T = ids.shape[1]
            x = wte[ids] + wpe[pos0:pos0 + T]
            for l, b in enumerate(blocks):
                h = F.layer_norm(x, (C,), one, zero, 1e-5)
                q, k, v = (h @ b['aw'] + b['ab']).split(C, dim=2)
                q, k, v = [t.view(1, T, NH, hs).transpose(1, 2) for t in (q, k, v)]
                if l in cache:
                    k = torch.cat([cache[l][0], k], 2); v = torch.cat([cache[l][1], v], 2)
                cache[l] = (k, v)
                att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
                S = k.shape[2]
                causal = torch.ones(T, S, device=dev, dtype=torch.bool).tril(S - T)
                att = att.masked_fill(~causal, float('-inf')).softmax(-1)
                y = (att @ v).transpose(1, 2).reshape(1, T, C)
                x = x + (y @ b['pw'] + b['pb'])
                h = F.layer_norm(x, (C,), one, zero, 1e-5)
                x = x + (F.gelu(h @ b['fw'] + b['fb'], approximate='tanh') @ b['qw'] + b['qb'])
            x = F.layer_norm(x, (C,), one, zero, 1e-5)
            return x[:, -1] @ wte.t()
        T = job['e2e']['prefillT']
        ids = torch.arange(T, device=dev).view(1, T) * 7919 % V
        prefill = bench(lambda: forward(ids, {}, 0))
        steps = job['e2e']['decodeSteps']
        def decode():
            cache = {}
            nxt = forward(ids[:, :8], cache, 0).argmax(-1).item()
            t = time.perf_counter()
            for i in range(steps):
                nxt = forward(torch.tensor([[nxt]], device=dev), cache, 8 + i).argmax(-1).item()
            return (time.perf_counter() - t) / steps * 1e3
        decode()
        out['e2e'] = {'prefillMs': prefill, 'prefillT': T, 'decodeMs': min(decode(), decode())}
print(json.dumps(out))
`;

/** Run the job in PyTorch; null with a reason when python3 or torch is missing or fails. */
export function torchPeer(job: TorchJob, timeoutMs = 170_000): { result: TorchResult | null; reason: string } {
  // $GPT2TS_PYTHON, else the first of python3 (a CUDA build on GPU machines) and Debian's
  // /usr/bin/python3 (python3-torch) that can import torch
  const hasTorch = (py: string): boolean => spawnSync(py, ['-c', 'import torch'], { timeout: 60_000 }).status === 0;
  const python = process.env.GPT2TS_PYTHON ?? (['python3', '/usr/bin/python3'].find(hasTorch) ?? 'python3');
  const r = spawnSync(python, ['-c', SCRIPT], { input: JSON.stringify(job), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 });
  if (r.error) return { result: null, reason: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { result: null, reason: `${python} exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  try {
    return { result: JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchResult, reason: '' };
  } catch {
    return { result: null, reason: `${python}: unreadable output` };
  }
}
