# Reference for LoraEmbeddingTests: PEFT's embedding-LoRA forward and merge, written from the published semantics and
# independent of Tessera: y = W[ids] + scaling * (A^T[ids] @ B^T), merged W' = W + scaling * (B @ A)^T, with
# A = lora_embedding_A [r, num_embeddings] and B = lora_embedding_B [embedding_dim, r] read from the PEFT files.
# Runs after reference_common.py (read_safetensors). Usage: reference_lora_embedding.py BASE_SAFETENSORS WEIGHT_KEY ADAPTER_FOLDER MODULE_PATH IDS_I64 BATCH SEQ OUT_F32 MERGED_F32
import json, sys
import torch

base_path, weight_key, adapter_dir, module_path, ids_path, batch, seq, out_path, merged_path = sys.argv[1:10]
weight = read_safetensors(base_path)[0][weight_key].double()
adapter = read_safetensors(adapter_dir + "/adapter_model.safetensors")[0]
config = json.load(open(adapter_dir + "/adapter_config.json"))
r, alpha = config["r"], config["lora_alpha"]
scaling = alpha / (r ** 0.5) if config.get("use_rslora") else alpha / r
a = adapter["base_model.model." + module_path + ".lora_embedding_A"].double()
b = adapter["base_model.model." + module_path + ".lora_embedding_B"].double()
assert a.shape == (r, weight.shape[0]) and b.shape == (weight.shape[1], r), (a.shape, b.shape, weight.shape)
with open(ids_path, "rb") as f:
    ids = torch.frombuffer(bytearray(f.read()), dtype=torch.int64).reshape(int(batch), int(seq))
out = F.embedding(ids, weight) + (F.embedding(ids, a.T) @ b.T) * scaling
merged = weight + (b @ a).T * scaling
out.float().numpy().astype("<f4").tofile(out_path)
merged.float().numpy().astype("<f4").tofile(merged_path)
print(f"{r} {scaling}")
