# PyTorch 1.13 side of `Tessera.Bench diffusion-train`: a plain training loop of the same class-conditional UNet
# (the independent UNet2DModel of tests/Tessera.Tests/Diffusion/reference_unet2d.py, written from diffusers'
# architecture) doing what Tessera's DiffusionModule step does: uniform timesteps, the cosine (squaredcos_cap_v2)
# forward process, 10% label dropout, epsilon MSE, AdamW (weight decay 0.01), then an EMA update of a second copy.
# Same data (Fashion-MNIST in [-1, 1]), batch and thread count. Prints one JSON line.
# usage: pytorch_unet2d_train.py CONFIG_JSON DATA_DIR THREADS BATCH WARMUP BATCHES
import json, math, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "Tessera.Tests", "Diffusion"))
import numpy as np
import torch
from pytorch_common import read_idx, timed_steps
from reference_unet2d import UNet2D

def cosine_alphas_cumprod(n):
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = [min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0).float()

def main():
    config_path, root = sys.argv[1], sys.argv[2]
    threads, batch, warmup, batches = (int(a) for a in sys.argv[3:7])
    torch.set_num_threads(threads)
    torch.set_grad_enabled(True)  # reference_unet2d turns autograd off at import (it is an inference reference)
    torch.manual_seed(0)
    with open(config_path) as f:
        config = json.load(f)
    images = torch.from_numpy(read_idx(f"{root}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1) * 2 - 1
    labels = torch.from_numpy(read_idx(f"{root}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model = UNet2D(config)
    model.train()
    ema = UNet2D(config)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    abar = cosine_alphas_cumprod(1000)
    null_class = config["num_class_embeds"] - 1
    order = torch.randperm(images.shape[0])
    def step(i):
        idx = order[(i * batch) % (images.shape[0] - batch):][:batch]
        x0, y = images.index_select(0, idx), labels.index_select(0, idx)
        t = torch.randint(0, 1000, (batch,))
        noise = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        y = torch.where(torch.rand(batch) < 0.1, torch.full_like(y, null_class), y)
        loss = torch.nn.functional.mse_loss(model(xt, t.float(), y), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        d = min(0.999, (2 + i) / (11 + i))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.mul_(d).add_(p, alpha=1 - d)
        return loss.item()
    elapsed = timed_steps(step, warmup, batches)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"images_per_second": batches * batch / elapsed, "batches": batches, "threads": threads, "parameters": params, "torch": torch.__version__}))

if __name__ == "__main__":
    main()
