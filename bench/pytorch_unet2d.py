# PyTorch 1.13 side of `Tessera.Bench unet`: the independent UNet2DModel of the parity test
# (tests/Tessera.Tests/Diffusion/reference_unet2d.py) on the same weights. It stays up and answers one command per
# stdin line, so the C# side can interleave the contenders round by round:
#   forward  one batch forward (no grad)                       -> {"ms": wall, "cpu_ms": process CPU time}
#   train    one training step (forward, MSE, backward, Adam 1e-4) on a second copy of the weights
#   ddim     50-step DDIM sampling of the batch (eta 0, leading spacing, as diffusers' DDIMScheduler defaults)
#   quit
# usage: pytorch_unet2d.py UNET_FOLDER THREADS BATCH STEPS
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "Tessera.Tests", "Diffusion"))
import torch
import torch.nn.functional as F
from reference_unet2d import UNet2D, read_safetensors

folder, threads, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.set_grad_enabled(False)
with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
weights = read_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
m = UNet2D(config)
m.load_state_dict(weights, strict=True)
m.eval()
trained = UNet2D(config)
trained.load_state_dict(weights, strict=True)
trained.train()
opt = torch.optim.Adam(trained.parameters(), 1e-4)
size, c = config["sample_size"], config["in_channels"]
torch.manual_seed(0)
x = torch.randn(batch, c, size, size)
labels = torch.arange(batch) % config["num_class_embeds"] if config.get("num_class_embeds") else None
t = torch.full((batch,), 500.0)

def train_step():
    with torch.enable_grad():
        opt.zero_grad()
        F.mse_loss(trained(x, t, labels), x).backward()
        opt.step()

def ddim():
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float32)
    ac = torch.cumprod(1 - betas, 0)
    ratio = 1000 // steps
    sample = torch.randn(batch, c, size, size)
    for tt in [i * ratio for i in range(steps)][::-1]:
        eps = m(sample, torch.full((batch,), float(tt)), labels)
        prev = tt - ratio
        a, ap = ac[tt], (ac[prev] if prev >= 0 else torch.tensor(1.0))
        x0 = (sample - (1 - a).sqrt() * eps) / a.sqrt()
        sample = ap.sqrt() * x0 + (1 - ap).sqrt() * eps

commands = {"forward": lambda: m(x, t, labels), "train": train_step, "ddim": ddim}
print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "quit":
        break
    cpu, wall = time.process_time(), time.perf_counter()
    commands[command]()
    print(json.dumps({"ms": (time.perf_counter() - wall) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000}), flush=True)
