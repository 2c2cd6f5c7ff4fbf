# Shared by the reference scripts: reads safetensors with json + struct only (no safetensors package), so the
# tensors the C# side wrote are checked by an independent reader.
import json, math, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_grad_enabled(False)
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        start, end = e["data_offsets"]
        dtype = DTYPES[e["dtype"]]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        t = t.reshape(e["shape"])
        tensors[name] = t.float() if t.is_floating_point() else t
    return tensors, header.get("__metadata__", {})


def read_ids(path, rows):
    t = torch.frombuffer(bytearray(open(path, "rb").read()), dtype=torch.int64)
    return t.reshape(rows, -1).clone()


def write(path, t):
    open(path, "wb").write(t.detach().float().contiguous().numpy().astype("<f4").tobytes())


def generation_positions(mask):
    # what transformers' generate passes as position_ids: count real tokens, 1 on padding
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def padding_bias(mask, dtype=torch.float32):
    # [b, 1, 1, k] additive: 0 on tokens, finfo.min on padding (transformers' extended attention mask)
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {"gelu": F.gelu, "gelu_new": gelu_new, "relu": F.relu, "silu": F.silu}
