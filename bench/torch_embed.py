#!/usr/bin/env python3
"""PyTorch CPU side of bench/embed.ts: load a GPT-2 folder (model.safetensors, HF layout), embed
batches of token ids (right padding + attention mask, mean over real tokens of ln_f), time it.

stdin: {"model": DIR, "batches": [[[ids...], ...], ...], "reps": N}
stdout: {"ms": [per rep, all batches], "embeddings": first batch's vectors (for a value check),
         "torch": version, "threads": n, "blas": ...}

HF GPT2Model's math in eager mode (no transformers import): Conv1D (in, out), tanh GELU, causal +
padding mask. Run with OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS / OPENBLAS_NUM_THREADS set before
torch is imported (bench/embed.ts does).
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'oracle'))
from gpt2_reference import read_safetensors  # noqa: E402

torch.set_grad_enabled(False)


def load(folder):
    tensors, _, _ = read_safetensors(os.path.join(folder, 'model.safetensors'))
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    p = {k[len('transformer.'):] if k.startswith('transformer.') else k: torch.from_numpy(v).float() for k, v in tensors.items()}
    return p, cfg


def embed(p, cfg, ids, mask):
    B, T = ids.shape
    C, NH, L = cfg['n_embd'], cfg['n_head'], cfg['n_layer']
    hs = C // NH
    eps = cfg.get('layer_norm_epsilon', 1e-5)
    x = p['wte.weight'][ids] + p['wpe.weight'][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    allowed = causal[None, None] & mask.bool()[:, None, None, :]
    for i in range(L):
        h = f'h.{i}.'
        a = F.layer_norm(x, (C,), p[h + 'ln_1.weight'], p[h + 'ln_1.bias'], eps)
        qkv = torch.addmm(p[h + 'attn.c_attn.bias'], a.view(-1, C), p[h + 'attn.c_attn.weight']).view(B, T, 3 * C)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        s = s.masked_fill(~allowed, torch.finfo(s.dtype).min)
        y = (s.softmax(-1) @ v).transpose(1, 2).reshape(B * T, C)
        x = x + torch.addmm(p[h + 'attn.c_proj.bias'], y, p[h + 'attn.c_proj.weight']).view(B, T, C)
        a = F.layer_norm(x, (C,), p[h + 'ln_2.weight'], p[h + 'ln_2.bias'], eps)
        m = F.gelu(torch.addmm(p[h + 'mlp.c_fc.bias'], a.view(-1, C), p[h + 'mlp.c_fc.weight']), approximate='tanh')
        x = x + torch.addmm(p[h + 'mlp.c_proj.bias'], m, p[h + 'mlp.c_proj.weight']).view(B, T, C)
    x = F.layer_norm(x, (C,), p['ln_f.weight'], p['ln_f.bias'], eps)
    mf = mask.float()[:, :, None]
    return (x * mf).sum(1) / mf.sum(1)


def main():
    job = json.loads(sys.stdin.read())
    p, cfg = load(job['model'])
    eos = cfg.get('eos_token_id', 50256)
    batches = []
    for rows in job['batches']:
        T = max(len(r) for r in rows)
        ids = torch.full((len(rows), T), eos, dtype=torch.long)
        mask = torch.zeros((len(rows), T), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, :len(r)] = torch.tensor(r)
            mask[b, :len(r)] = 1
        batches.append((ids, mask))
    first = embed(p, cfg, *batches[0])  # warm-up, and the vectors for the value check
    ms = []
    for _ in range(job.get('reps', 1)):
        t0 = time.perf_counter()
        for ids, mask in batches:
            embed(p, cfg, ids, mask)
        ms.append((time.perf_counter() - t0) * 1000)
    # the BLAS actually loaded (Debian picks libblas.so.3 by alternatives: reference or OpenBLAS)
    with open('/proc/self/maps') as f:
        blas = sorted({l.split()[-1] for l in f if 'blas' in l.lower() and '/' in l})
    print(json.dumps({'ms': ms, 'embeddings': first.tolist(), 'torch': torch.__version__,
                      'threads': torch.get_num_threads(), 'blas': blas}))


if __name__ == '__main__':
    main()
