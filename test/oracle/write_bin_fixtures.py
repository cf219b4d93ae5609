#!/usr/bin/env python3
"""Write the PyTorch checkpoint fixtures in test/fixtures/torch/ with torch.save (Debian's python3-torch).

Every checkpoint holds the weights of an existing safetensors fixture (test/fixtures/<set>/model*.safetensors,
read with the oracle's reader), laid out the way real Hugging Face files are, so the TypeScript tests can
require logits *bitwise* equal to the safetensors path:

  - GPT2LMHeadModel.state_dict() naming: a `transformer.` prefix, `lm_head.weight`;
  - an OrderedDict carrying `_metadata` (a BUILD opcode in the pickle, as module.state_dict() gives);
  - `h.N.attn.bias` as a uint8 causal mask (ByteStorage) and `h.N.attn.masked_bias` as a 0-dim float;
  - tied heads: `lm_head.weight` *is* `transformer.wte.weight` (one storage, two tensors);
  - untied heads: `lm_head.weight` = -wte (exact, so the test can rebuild it from the safetensors fixture);
  - a non-contiguous tensor: c_attn.weight of block 0 is the transpose view of a [3C, C] storage;
  - a storage offset: c_attn.bias of block 1 is a slice in the middle of a larger storage.

Both formats: the zip format (torch >= 1.6 default) and the legacy one (_use_new_zipfile_serialization=False).
Also: F16 and BF16 checkpoints, a 2-shard checkpoint with pytorch_model.bin.index.json, and crafted malicious
files (pickles that would run code under torch.load / pickle.load) for the refusal tests.

Run from the repository root:  /usr/bin/python3 test/oracle/write_bin_fixtures.py
"""

import collections
import io
import json
import os
import pickle
import shutil
import sys
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt2_reference import read_safetensors  # noqa: E402

FIX = os.path.join(HERE, "..", "fixtures")
OUT = os.path.join(FIX, "torch")


def weights(set_name, suffix=""):
    tensors, _, _ = read_safetensors(os.path.join(FIX, set_name, f"model{suffix}.safetensors"))
    return tensors


def config(set_name, **over):
    with open(os.path.join(FIX, set_name, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(over)
    return cfg


def state_dict(set_name, w, dtype=torch.float32, untied=False, odd_layout=True):
    """An OrderedDict like GPT2LMHeadModel.state_dict() holding the fixture weights `w` (numpy float32)."""
    cfg = config(set_name)
    P, L = cfg["n_positions"], cfg["n_layer"]
    sd = collections.OrderedDict()
    meta = collections.OrderedDict()
    for name, arr in w.items():
        t = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
        if odd_layout and name == "h.0.attn.c_attn.weight":
            # non-contiguous: the transpose view of a contiguous [3C, C] storage (strides (1, C))
            t = t.t().contiguous().t()
            assert not t.is_contiguous()
        if odd_layout and name == "h.1.attn.c_attn.bias":
            # a storage offset: the tensor lives at element 5 of a longer storage
            big = torch.cat([torch.full((5,), 7.0, dtype=dtype), t, torch.full((3,), -7.0, dtype=dtype)])
            t = big[5:5 + t.numel()]
            assert t.storage_offset() == 5
        sd["transformer." + name] = t
    for i in range(L):
        sd[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones((P, P), dtype=torch.uint8)).view(1, 1, P, P)
        sd[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    if untied:
        sd["lm_head.weight"] = -sd["transformer.wte.weight"]
    else:
        sd["lm_head.weight"] = sd["transformer.wte.weight"]  # tied: the same tensor, one storage
    meta[""] = {"version": 1}
    sd._metadata = meta
    return sd


def save(obj, path, legacy):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)


def write_config(folder, cfg):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def check_roundtrip(path, w, untied, dtype):
    """torch.load gives back exactly the fixture weights (after the same dtype rounding)."""
    sd = torch.load(path)
    for name, arr in w.items():
        want = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
        assert torch.equal(sd["transformer." + name], want), name
    head = sd["lm_head.weight"]
    wte = sd["transformer.wte.weight"]
    if untied:
        assert torch.equal(head, -wte)
    else:
        assert head.data_ptr() == wte.data_ptr()


class Exploit:
    """Pickles to a call of `fn(*args)`: what torch.load / pickle.load would execute."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def zip_with_pickle(path, pkl_bytes, archive="archive"):
    """A torch-zip-shaped file whose data.pkl is `pkl_bytes`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", pkl_bytes)
        z.writestr(f"{archive}/version", "3\n")


def legacy_with_pickle(path, pkl_bytes):
    """A legacy-format file whose state-dict pickle is `pkl_bytes` (the magic, protocol and sys_info are real)."""
    buf = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, buf, protocol=2)
    buf.write(pkl_bytes)
    pickle.dump([], buf, protocol=2)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def write_malicious():
    """Each file would run `touch <marker>` (or similar) under torch.load; the TS reader must refuse it."""
    import builtins
    import os as _os
    import subprocess
    d = os.path.join(OUT, "malicious")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    marker = "/tmp/gpt2ts-pwned"
    cases = {
        "os-system": Exploit(_os.system, (f"touch {marker}",)),  # pickles as posix.system on Linux
        "builtins-eval": Exploit(builtins.eval, (f"__import__('os').system('touch {marker}')",)),
        "builtins-exec": Exploit(builtins.exec, (f"open('{marker}', 'w')",)),
        "subprocess-popen": Exploit(subprocess.Popen, (["touch", marker],)),
        "builtins-import": Exploit(builtins.__import__, ("os",)),
    }
    for name, obj in cases.items():
        raw = pickle.dumps(collections.OrderedDict([("x", obj)]), protocol=2)
        zip_with_pickle(os.path.join(d, f"{name}.zip.bin"), raw)
        legacy_with_pickle(os.path.join(d, f"{name}.legacy.bin"), raw)
        with open(os.path.join(d, f"{name}.pkl"), "wb") as f:
            f.write(raw)
    # protocol 4 (STACK_GLOBAL instead of GLOBAL) and protocol 5
    with open(os.path.join(d, "os-system-proto4.pkl"), "wb") as f:
        f.write(pickle.dumps(cases["os-system"], protocol=4))
    with open(os.path.join(d, "os-system-proto5.pkl"), "wb") as f:
        f.write(pickle.dumps({"x": cases["os-system"]}, protocol=5))
    print(f"malicious: {sorted(os.listdir(d))}")


def write_dtypes():
    """Every storage dtype, strided views, scalars and empty tensors, with their values in JSON."""
    d = os.path.join(OUT, "misc")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    base = torch.randn(2, 3, 4, generator=g)
    sub = torch.tensor([6e-8, -6e-8, 1e-5, 65504.0, -2.5, 0.0])  # F16 subnormals and the largest F16
    sd = collections.OrderedDict()
    sd["f32_permuted"] = base.permute(2, 0, 1)  # shape (4, 2, 3), strides (1, 12, 4)
    sd["f32_step"] = torch.arange(20, dtype=torch.float32)[3::4]  # offset 3, stride 4
    sd["f32_expanded"] = torch.arange(3, dtype=torch.float32).view(3, 1).expand(3, 2).contiguous().t()
    sd["f32_scalar"] = torch.tensor(1.5)
    sd["f32_empty"] = torch.zeros(0, 3)
    sd["f64"] = torch.tensor([1.0 / 3.0, 1e-300, -2.0], dtype=torch.float64)
    sd["f16"] = sub.half()
    sd["bf16"] = torch.tensor([1.0 / 3.0, -7.5e-39, 3.0e38], dtype=torch.bfloat16)
    sd["i64"] = torch.tensor([0, -1, 2**40, -(2**53) + 1], dtype=torch.int64)
    sd["i64_t"] = torch.arange(6, dtype=torch.int64).view(2, 3).t()
    sd["i32"] = torch.tensor([7, -8], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["shared_a"] = base.view(-1)[4:10]
    sd["shared_b"] = base.view(-1)[4:10]  # the same view of the same storage as shared_a
    expected = {}
    for k, t in sd.items():
        flat = t.contiguous().view(-1)
        if t.dtype in (torch.int64, torch.int32, torch.uint8, torch.bool):
            values = [str(int(x)) for x in flat.tolist()]
        else:
            values = [repr(float(x)) for x in flat.float().tolist()]  # as float32, what readF32 returns
        expected[k] = {"shape": list(t.shape), "stride": list(t.stride()), "offset": t.storage_offset(), "values": values}
    for fmt, legacy in [("zip", False), ("legacy", True)]:
        save(sd, os.path.join(d, f"dtypes.{fmt}.bin"), legacy)
    with open(os.path.join(d, "dtypes.json"), "w") as f:
        json.dump(expected, f, indent=1)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    written = []

    for set_name in ["gpt2-tiny", "odd-3head"]:
        w = weights(set_name)
        for fmt, legacy in [("zip", False), ("legacy", True)]:
            folder = os.path.join(OUT, f"{set_name}-{fmt}")
            write_config(folder, config(set_name))
            path = os.path.join(folder, "pytorch_model.bin")
            save(state_dict(set_name, w), path, legacy)
            check_roundtrip(path, w, False, torch.float32)
            written.append(path)

    # untied heads (lm_head = -wte), both formats
    w = weights("gpt2-tiny")
    for fmt, legacy in [("zip", False), ("legacy", True)]:
        folder = os.path.join(OUT, f"gpt2-tiny-untied-{fmt}")
        write_config(folder, config("gpt2-tiny", tie_word_embeddings=False))
        path = os.path.join(folder, "pytorch_model.bin")
        save(state_dict("gpt2-tiny", w, untied=True), path, legacy)
        check_roundtrip(path, w, True, torch.float32)
        written.append(path)

    # F16 (zip) and BF16 (legacy): weights rounded by torch, as the .f16/.bf16 safetensors fixtures are
    folder = os.path.join(OUT, "gpt2-tiny-half")
    write_config(folder, config("gpt2-tiny"))
    for dtype, tag, legacy in [(torch.float16, "f16", False), (torch.bfloat16, "bf16", True)]:
        path = os.path.join(folder, f"pytorch_model.{tag}.bin")
        save(state_dict("gpt2-tiny", w, dtype=dtype), path, legacy)
        check_roundtrip(path, w, False, dtype)
        written.append(path)

    # two shards and an index, as transformers' save_pretrained(max_shard_size=...) writes them (plain dicts)
    folder = os.path.join(OUT, "gpt2-tiny-sharded")
    write_config(folder, config("gpt2-tiny"))
    sd = state_dict("gpt2-tiny", w, odd_layout=False)
    names = list(sd)
    first = [n for n in names if not n.startswith("transformer.h.1.")]
    parts = [first, [n for n in names if n not in first]]
    weight_map = {}
    total = 0
    for i, part in enumerate(parts):
        fname = f"pytorch_model-{i + 1:05d}-of-{len(parts):05d}.bin"
        shard = {n: sd[n] for n in part}
        save(shard, os.path.join(folder, fname), legacy=False)
        written.append(os.path.join(folder, fname))
        for n in part:
            weight_map[n] = fname
            total += sd[n].numel() * sd[n].element_size()
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    write_dtypes()
    write_malicious()
    for p in written:
        kind = "zip" if zipfile.is_zipfile(p) else "legacy"
        print(f"{os.path.relpath(p, OUT)}: {os.path.getsize(p)} bytes ({kind})")


if __name__ == "__main__":
    main()
