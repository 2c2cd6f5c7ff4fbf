# Reference for LoraModelTests: W + scaling * B @ A from the base and adapter safetensors, independent of Tessera.
# Usage: reference_lora_merge.py BASE_SAFETENSORS ADAPTER_FOLDER MERGED_SAFETENSORS ; prints the max abs difference.
import json, struct, sys
import torch

def read_safetensors(path):
    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtypes[info["dtype"]]) if end > start else torch.empty(0, dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out

base = read_safetensors(sys.argv[1])
adapter = read_safetensors(sys.argv[2] + "/adapter_model.safetensors")
config = json.load(open(sys.argv[2] + "/adapter_config.json"))
merged = read_safetensors(sys.argv[3])
r, alpha = config["r"], config["lora_alpha"]
scaling = alpha / (r ** 0.5) if config.get("use_rslora") else alpha / r
prefix = "base_model.model."
expected = dict(base)
count = 0
for key, a in adapter.items():
    if not key.endswith(".lora_A.weight"):
        continue
    path = key[len(prefix):-len(".lora_A.weight")]
    b = adapter[prefix + path + ".lora_B.weight"]
    delta = scaling * (b.double() @ a.double())
    if config["fan_in_fan_out"]:
        delta = delta.T
    expected[path + ".weight"] = (base[path + ".weight"].double() + delta).float()
    count += 1
assert set(expected) == set(merged), (sorted(set(expected) ^ set(merged)))
worst = max((expected[k].float() - merged[k]).abs().max().item() for k in expected)
print(f"{count} {worst}")
