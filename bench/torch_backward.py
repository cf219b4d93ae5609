"""PyTorch CPU peer for bench/cpu-backward.ts: the matmul backward of out = inp·W + b, float32.

    /usr/bin/python3 bench/torch_backward.py M K N transW min_seconds

dinp = dout·Wᵀ and dW = inpᵀ·dout (W (K,N); with transW W is (N,K) and dW = doutᵀ·inp), plus
dbias = Σ_m dout (without transW). Prints one JSON line: the median milliseconds. Threads as in
bench/torch_train.py (fixed before torch is imported).
"""

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OPENBLAS_NUM_THREADS"] = "2"
os.environ["OMP_NUM_THREADS"] = "2"
os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.pop("OPENBLAS_L2_SIZE", None)

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402


def main():
    M, K, N, trans, budget = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", float(sys.argv[5])
    inp, dout = torch.randn(M, K), torch.randn(M, N)
    w = torch.randn(N, K) if trans else torch.randn(K, N)

    def run():
        if trans:
            dinp = dout @ w
            dw = dout.t() @ inp
        else:
            dinp = dout @ w.t()
            dw = inp.t() @ dout
            dout.sum(0)
        return dinp, dw

    run()
    xs = []
    end = time.perf_counter() + budget
    while time.perf_counter() < end or len(xs) < 3:
        t = time.perf_counter()
        run()
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    print(json.dumps({"ms": xs[len(xs) // 2], "threads": torch.get_num_threads()}))


main()
