# A GPT-2-small-shape (12 x 768, 124M parameters) model folder with random weights (N(0, 0.02), LayerNorm 1/0) and GPT-2's BPE tokenizer files.
import json, struct, sys, shutil
import numpy as np
src, out = sys.argv[1], sys.argv[2]
import os; os.makedirs(out, exist_ok=True)
for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"): shutil.copy(os.path.join(src, f), out)
cfg = json.load(open(os.path.join(src, "config.json")))
cfg.update(n_positions=1024, n_embd=768, n_layer=12, n_head=12)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
rng = np.random.default_rng(0)
E = 768; t = {}
def normal(*s): return rng.standard_normal(s, dtype=np.float32) * np.float32(0.02)
t['transformer.wte.weight'] = normal(50257, E)
t['transformer.wpe.weight'] = normal(1024, E)
for i in range(12):
    p = f'transformer.h.{i}.'
    for ln in ('ln_1', 'ln_2'):
        t[p + ln + '.weight'] = np.ones(E, np.float32); t[p + ln + '.bias'] = np.zeros(E, np.float32)
    for name, (a, b) in {'attn.c_attn': (E, 3 * E), 'attn.c_proj': (E, E), 'mlp.c_fc': (E, 4 * E), 'mlp.c_proj': (4 * E, E)}.items():
        t[p + name + '.weight'] = normal(a, b); t[p + name + '.bias'] = np.zeros(b, np.float32)
t['transformer.ln_f.weight'] = np.ones(E, np.float32); t['transformer.ln_f.bias'] = np.zeros(E, np.float32)
header = {'__metadata__': {'format': 'pt'}}; off = 0; names = sorted(t)
for k in names:
    n = t[k].nbytes; header[k] = {'dtype': 'F32', 'shape': list(t[k].shape), 'data_offsets': [off, off + n]}; off += n
h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, 'model.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(h))); f.write(h)
    for k in names: f.write(t[k].tobytes())
print(sum(v.size for v in t.values()), "parameters")
