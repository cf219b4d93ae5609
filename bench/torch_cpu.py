#!/usr/bin/env python3
"""PyTorch CPU side of bench/cpu.ts: a JSON-lines server on stdin/stdout, so the TypeScript bench
can interleave engine and PyTorch timings shape by shape (the machine is shared and noisy).

Requests (one JSON object per line) and replies:
  {"op": "info"}                                   -> torch version, threads, BLAS
  {"op": "matmul", "M", "K", "N", "transW", "minTime"} -> {"ms": [samples]}
      out = addmm(bias, a, W) with W (K, N) (HF Conv1D), or a @ W.T with W (N, K) (tied lm-head)
  {"op": "model", "V", "P", "C", "L", "NH", "seed"}  -> builds a random GPT-2 (eager, by hand)
  {"op": "forward", "T", "minTime"}                -> {"ms": [...]}: B=1 full forward, all logits
  {"op": "decode", "prompt", "steps", "reps"}      -> {"ms": [...]}: per run, `steps` cached steps

The model is written out here (no transformers import): HF GPT2LMHeadModel's math in eager mode,
Conv1D weights (in, out), tanh GELU, tied lm-head, and a KV cache of past k/v per layer like HF's
`past_key_values` (torch.cat along the sequence axis each step).

Run it from the bench with OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS=2, OPENBLAS_NUM_THREADS=2
set before torch is imported (bench/cpu.ts does), otherwise idle OpenMP threads spin.
"""
import json
import math
import sys
import time

import torch

torch.set_grad_enabled(False)


def timeit(fn, min_time):
    for _ in range(2):
        fn()
    samples = []
    t_end = time.perf_counter() + min_time
    while len(samples) < 3 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= 200:
            break
    return samples


class GPT2:
    """Random-weight GPT-2 (std 0.02 weights, zero biases, unit LayerNorm), HF math, eager."""

    def __init__(self, V, P, C, L, NH, seed):
        g = torch.Generator().manual_seed(seed)
        r = lambda *s: torch.randn(*s, generator=g) * 0.02
        self.C, self.NH, self.hs = C, NH, C // NH
        self.wte, self.wpe = r(V, C), r(P, C)
        self.blocks = []
        for _ in range(L):
            self.blocks.append(dict(
                ln1w=torch.ones(C), ln1b=torch.zeros(C), qkvw=r(C, 3 * C), qkvb=torch.zeros(3 * C),
                projw=r(C, C), projb=torch.zeros(C), ln2w=torch.ones(C), ln2b=torch.zeros(C),
                fcw=r(C, 4 * C), fcb=torch.zeros(4 * C), fcprojw=r(4 * C, C), fcprojb=torch.zeros(C)))
        self.lnfw, self.lnfb = torch.ones(C), torch.zeros(C)

    def conv1d(self, x, w, b):
        # HF Conv1D: addmm(bias, x.view(-1, in), weight)
        return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[1])

    def attn(self, x, blk, past):
        B, T, C = x.shape
        qkv = self.conv1d(x, blk['qkvw'], blk['qkvb'])
        q, k, v = qkv.split(C, dim=2)
        sh = lambda t: t.reshape(B, T, self.NH, self.hs).permute(0, 2, 1, 3)
        q, k, v = sh(q), sh(k), sh(v)
        if past is not None:
            k = torch.cat((past[0], k), dim=-2)
            v = torch.cat((past[1], v), dim=-2)
        present = (k, v)
        S = k.shape[-2]
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hs)
        causal = torch.ones(S, S, dtype=torch.bool).tril()[S - T:S, :S]
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min))
        w = torch.softmax(w, dim=-1)
        y = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(B, T, C)
        return self.conv1d(y, blk['projw'], blk['projb']), present

    def forward(self, ids, past=None):
        B, T = ids.shape
        p0 = 0 if past is None else past[0][0].shape[-2]
        x = self.wte[ids] + self.wpe[p0:p0 + T]
        presents = []
        for i, blk in enumerate(self.blocks):
            h = torch.nn.functional.layer_norm(x, (self.C,), blk['ln1w'], blk['ln1b'], 1e-5)
            a, pr = self.attn(h, blk, None if past is None else past[i])
            presents.append(pr)
            x = x + a
            h = torch.nn.functional.layer_norm(x, (self.C,), blk['ln2w'], blk['ln2b'], 1e-5)
            h = torch.nn.functional.gelu(self.conv1d(h, blk['fcw'], blk['fcb']), approximate='tanh')
            x = x + self.conv1d(h, blk['fcprojw'], blk['fcprojb'])
        x = torch.nn.functional.layer_norm(x, (self.C,), self.lnfw, self.lnfb, 1e-5)
        return torch.matmul(x, self.wte.t()), presents


def main():
    model = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req['op']
        if op == 'info':
            torch.ones(2, 2) @ torch.ones(2, 2)  # make sure BLAS is loaded before looking
            cfg = torch.__config__.show()
            blas = next((p.split('=')[1] for p in cfg.replace(',', ' ').split() if p.startswith('BLAS_INFO=')), '?')
            # the BLAS actually loaded (Debian's torch is built against the generic libblas.so.3,
            # which the alternatives system points at the reference BLAS or OpenBLAS)
            with open('/proc/self/maps') as f:
                libs = sorted({l.split()[-1].split('/')[-1] for l in f if 'blas' in l.lower() and '/' in l})
            out = dict(torch=torch.__version__, threads=torch.get_num_threads(), blas=blas, blasLoaded=libs)
        elif op == 'matmul':
            M, K, N = req['M'], req['K'], req['N']
            g = torch.Generator().manual_seed(1)
            a = torch.rand(M, K, generator=g) - 0.5
            if req['transW']:
                w = torch.rand(N, K, generator=g) - 0.5
                fn = lambda: torch.matmul(a, w.t())
            else:
                w = torch.rand(K, N, generator=g) - 0.5
                b = torch.rand(N, generator=g) - 0.5
                fn = lambda: torch.addmm(b, a, w)
            out = dict(ms=timeit(fn, req.get('minTime', 0.5)))
        elif op == 'model':
            model = GPT2(req['V'], req['P'], req['C'], req['L'], req['NH'], req.get('seed', 1))
            out = dict(ok=True)
        elif op == 'forward':
            ids = (torch.arange(req['T']) * 7919 % model.wte.shape[0]).reshape(1, -1)
            out = dict(ms=timeit(lambda: model.forward(ids), req.get('minTime', 1.0)))
        elif op == 'decode':
            prompt = (torch.arange(req['prompt']) * 7919 % model.wte.shape[0]).reshape(1, -1)
            steps = req['steps']
            samples = []
            for _ in range(req.get('reps', 3) + 1):
                _, past = model.forward(prompt)
                t0 = time.perf_counter()
                for s in range(steps):
                    logits, past = model.forward(torch.tensor([[s % 1000]]), past)
                samples.append((time.perf_counter() - t0) * 1000)
            out = dict(ms=samples[1:])
        else:
            out = dict(error=f'unknown op {op}')
        sys.stdout.write(json.dumps(out) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
