"""PyTorch CPU peer for bench/train.ts: the same GPT-2 training step, hand-written.

A GPT-2 with Hugging Face numerics (Conv1D weights [in, out], q|k|v split, causal softmax attention,
gelu tanh, tied lm-head, LayerNorm eps 1e-5), random init like gpt2ts randomParams, and one training
step exactly as bench/train.ts times it: forward, cross-entropy (mean, ignore_index -100), backward,
clip_grad_norm_(1.0), torch.optim.AdamW (decay on 2-D weights only). No dropout on either side.

    /usr/bin/python3 bench/torch_train.py --vocab 50257 --n-embd 768 --n-layer 12 --n-head 12 \
        --n-positions 1024 --batch 4 --seq 64 --warmup 1 --steps 3

Prints one JSON line: step times (s), tokens/s, torch version and threads, peak RSS (bytes).
The thread environment is fixed before torch is imported (the project's benchmark rules).
"""

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OPENBLAS_NUM_THREADS"] = "2"
os.environ["OMP_NUM_THREADS"] = "2"
os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.pop("OPENBLAS_L2_SIZE", None)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(torch.nn.Module):
    def __init__(self, C, n_head, n_layer):
        super().__init__()
        self.n_head = n_head
        std, proj_std = 0.02, 0.02 / math.sqrt(2 * n_layer)
        p = torch.nn.Parameter
        self.ln1_w, self.ln1_b = p(torch.ones(C)), p(torch.zeros(C))
        self.attn_w, self.attn_b = p(torch.randn(C, 3 * C) * std), p(torch.zeros(3 * C))
        self.attnproj_w, self.attnproj_b = p(torch.randn(C, C) * proj_std), p(torch.zeros(C))
        self.ln2_w, self.ln2_b = p(torch.ones(C)), p(torch.zeros(C))
        self.fc_w, self.fc_b = p(torch.randn(C, 4 * C) * std), p(torch.zeros(4 * C))
        self.fcproj_w, self.fcproj_b = p(torch.randn(4 * C, C) * proj_std), p(torch.zeros(C))

    def forward(self, x, causal):
        B, T, C = x.shape
        H, hs = self.n_head, C // self.n_head
        h = F.layer_norm(x, (C,), self.ln1_w, self.ln1_b, 1e-5)
        qkv = torch.addmm(self.attn_b, h.view(-1, C), self.attn_w).view(B, T, 3 * C)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, H, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~causal[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B * T, C)
        x = x + torch.addmm(self.attnproj_b, y, self.attnproj_w).view(B, T, C)
        h = F.layer_norm(x, (C,), self.ln2_w, self.ln2_b, 1e-5)
        h = F.gelu(torch.addmm(self.fc_b, h.view(-1, C), self.fc_w), approximate="tanh")
        return x + torch.addmm(self.fcproj_b, h, self.fcproj_w).view(B, T, C)


class GPT2(torch.nn.Module):
    def __init__(self, V, P, C, L, H):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.randn(V, C) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(P, C) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(C, H, L) for _ in range(L))
        self.lnf_w, self.lnf_b = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.zeros(C))
        self.register_buffer("causal", torch.tril(torch.ones(P, P, dtype=torch.bool)))

    def forward(self, ids):
        B, T = ids.shape
        x = self.wte[ids] + self.wpe[:T]
        for b in self.blocks:
            x = b(x, self.causal)
        x = F.layer_norm(x, (x.shape[-1],), self.lnf_w, self.lnf_b, 1e-5)
        return x @ self.wte.t()  # tied lm-head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--n-positions", type=int, default=1024)
    ap.add_argument("--n-embd", type=int, default=768)
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-head", type=int, default=12)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(1)
    model = GPT2(a.vocab, a.n_positions, a.n_embd, a.n_layer, a.n_head)
    decay = [p for p in model.parameters() if p.dim() == 2]
    nodecay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(2)
    toks = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
    ids, targets = toks[:, :-1], toks[:, 1:]

    def step():
        opt.zero_grad(set_to_none=False)
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, a.vocab), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "step_s": times, "mean_step_s": mean, "tokens_per_s": a.batch * a.seq / mean, "loss": loss,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "params": sum(p.numel() for p in model.parameters()),
    }))


if __name__ == "__main__":
    main()
