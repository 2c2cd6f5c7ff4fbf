# PyTorch 1.13 side of `Tessera.Bench unet-profile`: the same operator list on the same shapes (batch 16), timed the
# same way (median), and the whole reference UNet (bench config, random weights) forward and training step.
# usage: pytorch_unet2d_ops.py THREADS BATCH ROUNDS
import math, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "Tessera.Tests", "Diffusion"))
import torch
import torch.nn as nn
import torch.nn.functional as F
from reference_unet2d import UNet2D

threads, b, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)

cpu_last = [0.0]
def median(n, f):
    f(); f()
    ts, cs = [], []
    for _ in range(n):
        c = time.process_time(); s = time.perf_counter(); f(); ts.append((time.perf_counter() - s) * 1000); cs.append((time.process_time() - c) * 1000)
    ts.sort(); cs.sort()
    cpu_last[0] = cs[len(cs) // 2]
    return ts[len(ts) // 2]

rows = []
cfg = {"sample_size": 28, "in_channels": 1, "out_channels": 1, "block_out_channels": [32, 64, 128], "layers_per_block": 2,
       "norm_num_groups": 16, "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
       "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"], "attention_head_dim": 32, "num_class_embeds": 11,
       "norm_eps": 1e-5, "act_fn": "silu", "resnet_time_scale_shift": "default", "dropout": 0.0, "downsample_padding": 1,
       "mid_block_scale_factor": 1.0, "add_attention": True, "class_embed_type": None, "center_input_sample": False,
       "flip_sin_to_cos": True, "freq_shift": 0, "time_embedding_dim": None}
torch.manual_seed(0)
torch.set_grad_enabled(False)
m = UNet2D(cfg)
m.eval()
x, t, labels = torch.randn(b, 1, 28, 28), torch.full((b,), 500.0), torch.arange(b) % 11
rows.append(("unet forward (no_grad)", median(rounds, lambda: m(x, t, labels)), cpu_last[0]))
torch.set_grad_enabled(True)
m.train()
opt = torch.optim.Adam(m.parameters(), 1e-4)
def step():
    opt.zero_grad()
    F.mse_loss(m(x, t, labels), x).backward()
    opt.step()
rows.append(("unet train step (fwd+bwd+adam)", median(rounds, step), cpu_last[0]))
torch.set_grad_enabled(False)
n = rounds * 4
for cin, cout, hw in [(64, 32, 28), (128, 64, 14), (256, 128, 7)]:
    conv, a, c = nn.Conv2d(cin, cout, 3, padding=1), torch.randn(b, cout, hw, hw), torch.randn(b, cin - cout, hw, hw)
    w1, w2 = conv.weight[:, :cout].contiguous(), conv.weight[:, cout:].contiguous()
    rows.append((f"cat+conv3x3 {cin}->{cout} @{hw}", median(n, lambda: conv(torch.cat([a, c], 1))), cpu_last[0]))
    rows.append((f"split conv3x3 {cin}->{cout} @{hw}", median(n, lambda: F.conv2d(a, w1, conv.bias, padding=1).add_(F.conv2d(c, w2, None, padding=1))), cpu_last[0]))
for cin, cout, hw, stride in [(1, 32, 28, 1), (32, 32, 28, 1), (64, 32, 28, 1), (96, 32, 28, 1), (32, 32, 28, 2), (32, 64, 14, 1), (64, 64, 14, 1), (128, 64, 14, 1), (96, 64, 14, 1), (64, 64, 14, 2), (64, 128, 7, 1), (128, 128, 7, 1), (256, 128, 7, 1), (192, 128, 7, 1), (32, 1, 28, 1)]:
    conv, inp = nn.Conv2d(cin, cout, 3, stride=stride, padding=1), torch.randn(b, cin, hw, hw)
    rows.append((f"conv3x3 {cin}->{cout} @{hw} s{stride}", median(n, lambda: conv(inp)), cpu_last[0]))
for c, hw in [(32, 28), (64, 28), (96, 28), (64, 14), (128, 14), (192, 14), (128, 7), (256, 7)]:
    gn, inp = nn.GroupNorm(16, c), torch.randn(b, c, hw, hw)
    rows.append((f"group_norm 16 x {c} @{hw}", median(n, lambda: gn(inp)), cpu_last[0]))
    rows.append((f"silu {c} @{hw}", median(n, lambda: F.silu(inp)), cpu_last[0]))
for heads, seq in [(2, 196), (4, 49)]:
    q, k, v = torch.randn(b, heads, seq, 32), torch.randn(b, heads, seq, 32), torch.randn(b, heads, seq, 32)
    rows.append((f"sdpa {heads}x{seq}x32", float("nan"), float("nan")))
    rows.append((f"manual attention {heads}x{seq}x32", median(n, lambda: torch.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(32)), -1) @ v), cpu_last[0]))
    lin, tokens = nn.Linear(heads * 32, heads * 32), torch.randn(b, seq, heads * 32)
    rows.append((f"linear {heads * 32} x {seq}", median(n, lambda: lin(tokens)), cpu_last[0]))
    side = int(math.sqrt(seq))
    img = torch.randn(b, heads * 32, side, side)
    rows.append((f"transpose+contig {heads * 32} @{seq}", median(n, lambda: img.view(b, heads * 32, seq).transpose(1, 2).contiguous()), cpu_last[0]))
for c, hw in [(64, 14), (128, 7)]:
    inp, other = torch.randn(b, c, hw, hw), torch.randn(b, c, hw, hw)
    rows.append((f"interpolate nearest x2 {c} @{hw}", median(n, lambda: F.interpolate(inp, scale_factor=2.0, mode="nearest")), cpu_last[0]))
    rows.append((f"cat {c}+{c} @{hw}", median(n, lambda: torch.cat([inp, other], 1)), cpu_last[0]))
for name, ms, cpu in rows:
    print(f"{name:<48} {ms:10.3f} ms {cpu:10.1f} cpu-ms")
