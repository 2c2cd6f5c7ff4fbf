# Reference for LoraModelTests: W + scaling * B @ A from the base and adapter safetensors, independent of Tessera.
# Runs after reference_common.py (read_safetensors). Usage: reference_lora_merge.py BASE_SAFETENSORS ADAPTER_FOLDER MERGED_SAFETENSORS ; prints the max abs difference.
import json, sys
import torch

base = read_safetensors(sys.argv[1])[0]
adapter = read_safetensors(sys.argv[2] + "/adapter_model.safetensors")[0]
config = json.load(open(sys.argv[2] + "/adapter_config.json"))
merged = read_safetensors(sys.argv[3])[0]
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
