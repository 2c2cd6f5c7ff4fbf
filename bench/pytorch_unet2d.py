# PyTorch 1.13 side of `Tessera.Bench unet`: the independent UNet2DModel of the parity test
# (tests/Tessera.Tests/Diffusion/reference_unet2d.py) on the same weights, timed on a batch forward and on 50-step
# DDIM sampling (eta 0, leading spacing, as diffusers' DDIMScheduler defaults).
# usage: pytorch_unet2d.py UNET_FOLDER THREADS BATCH ROUNDS STEPS
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "Tessera.Tests", "Diffusion"))
import torch
from reference_unet2d import UNet2D, read_safetensors

folder, threads, batch, rounds, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.set_grad_enabled(False)
with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
m = UNet2D(config)
m.load_state_dict(read_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors")), strict=True)
m.eval()
size, c = config["sample_size"], config["in_channels"]
x = torch.randn(batch, c, size, size)
labels = torch.arange(batch) % config["num_class_embeds"] if config.get("num_class_embeds") else None
t = torch.full((batch,), 500.0)
for _ in range(2):
    m(x, t, labels)
times = []
for _ in range(rounds):
    s = time.perf_counter()
    m(x, t, labels)
    times.append((time.perf_counter() - s) * 1000)
times.sort()
forward = times[len(times) // 2]

betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float32)
ac = torch.cumprod(1 - betas, 0)
ratio = 1000 // steps
ts = [i * ratio for i in range(steps)][::-1]
s = time.perf_counter()
sample = torch.randn(batch, c, size, size)
for tt in ts:
    eps = m(sample, torch.full((batch,), float(tt)), labels)
    prev = tt - ratio
    a, ap = ac[tt], (ac[prev] if prev >= 0 else torch.tensor(1.0))
    x0 = (sample - (1 - a).sqrt() * eps) / a.sqrt()
    sample = ap.sqrt() * x0 + (1 - ap).sqrt() * eps
ddim = (time.perf_counter() - s) * 1000
print(json.dumps({"forward_ms": forward, "ddim_ms": ddim, "torch": torch.__version__}))
