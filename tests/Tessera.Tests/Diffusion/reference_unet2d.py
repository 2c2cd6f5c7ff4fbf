# An independent PyTorch 1.13 implementation of diffusers' UNet2DModel (positional time embedding, DownBlock2D,
# AttnDownBlock2D, UNetMidBlock2D, UpBlock2D, AttnUpBlock2D, class embeddings), written from diffusers' architecture
# with its parameter names, and a minimal safetensors reader/writer (the format is an 8-byte header length, a JSON
# header and raw little-endian data).
#
# usage: reference_unet2d.py DIR
#   DIR/csharp/{config.json, diffusion_pytorch_model.safetensors}: load strictly, run on DIR/inputs.safetensors -> DIR/out_csharp.bin
#   then build a fresh model (seed 7) from the same config, save DIR/python/{config.json, diffusion_pytorch_model.safetensors},
#   run it on the same inputs -> DIR/out_python.bin
import json, math, os, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_grad_enabled(False)
DT = {"F32": np.float32, "I64": np.int64}
INV = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.dtype(DT[e["dtype"]]).newbyteorder("<")).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.astype(DT[e["dtype"]]).copy())
    return out

def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().contiguous().numpy()
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": INV[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def act(name):
    return {"silu": nn.SiLU(), "swish": nn.SiLU(), "mish": nn.Mish(), "gelu": nn.GELU(), "relu": nn.ReLU()}[name]

def sinusoid(t, dim, flip, shift):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - shift)
    e = t.float()[:, None] * torch.exp(exponent)[None, :]
    e = torch.cat([torch.sin(e), torch.cos(e)], dim=-1)
    if flip:
        e = torch.cat([e[:, half:], e[:, :half]], dim=-1)
    return e

class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(dim, dim)
    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))

class Resnet(nn.Module):
    def __init__(self, cin, cout, cfg, scale=1.0):
        super().__init__()
        g, eps = cfg["norm_num_groups"], cfg["norm_eps"]
        self.scale_shift = cfg["resnet_time_scale_shift"] == "scale_shift"
        self.norm1 = nn.GroupNorm(g, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(cfg["temb"], 2 * cout if self.scale_shift else cout)
        self.norm2 = nn.GroupNorm(g, cout, eps=eps)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nonlinearity = act(cfg["act_fn"])
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.scale = scale
    def forward(self, x, temb):
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        t = self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        if self.scale_shift:
            s, b = torch.chunk(t, 2, dim=1)
            h = self.norm2(h) * (1 + s) + b
        else:
            h = self.norm2(h + t)
        h = self.conv2(self.dropout(self.nonlinearity(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return (x + h) / self.scale

class Attention(nn.Module):
    def __init__(self, c, head_dim, groups, eps, rescale=1.0):
        super().__init__()
        self.heads = c // head_dim if head_dim else 1
        self.group_norm = nn.GroupNorm(groups, c, eps=eps)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])
        self.rescale = rescale
    def forward(self, x):
        b, c, h, w = x.shape
        d = c // self.heads
        s = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        def split(t):
            return t.reshape(b, h * w, self.heads, d).permute(0, 2, 1, 3).reshape(b * self.heads, h * w, d)
        q, k, v = split(self.to_q(s)), split(self.to_k(s)), split(self.to_v(s))
        p = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * d ** -0.5, dim=-1)
        o = torch.bmm(p, v).reshape(b, self.heads, h * w, d).permute(0, 2, 1, 3).reshape(b, h * w, c)
        o = self.to_out[1](self.to_out[0](o)).transpose(1, 2).reshape(b, c, h, w)
        return (o + x) / self.rescale

class Down(nn.Module):
    def __init__(self, cin, cout, attn, down, cfg):
        super().__init__()
        L = cfg["layers_per_block"]
        self.resnets = nn.ModuleList([Resnet(cin if i == 0 else cout, cout, cfg) for i in range(L)])
        self.attentions = nn.ModuleList([Attention(cout, cfg["attention_head_dim"], cfg["norm_num_groups"], cfg["norm_eps"]) for _ in range(L)]) if attn else None
        self.downsamplers = nn.ModuleList([Downsample(cout, cfg["downsample_padding"])]) if down else None
    def forward(self, x, temb):
        states = []
        for i, r in enumerate(self.resnets):
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states

class Downsample(nn.Module):
    def __init__(self, c, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=padding)
    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)

class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))

class Up(nn.Module):
    def __init__(self, cin, prev, cout, attn, up, cfg):
        super().__init__()
        L = cfg["layers_per_block"] + 1
        self.resnets = nn.ModuleList([Resnet((prev if i == 0 else cout) + (cin if i == L - 1 else cout), cout, cfg) for i in range(L)])
        self.attentions = nn.ModuleList([Attention(cout, cfg["attention_head_dim"], cfg["norm_num_groups"], cfg["norm_eps"]) for _ in range(L)]) if attn else None
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if up else None
    def forward(self, x, skips, temb):
        for i, r in enumerate(self.resnets):
            x = r(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x

class Mid(nn.Module):
    def __init__(self, c, cfg):
        super().__init__()
        s = cfg["mid_block_scale_factor"]
        self.resnets = nn.ModuleList([Resnet(c, c, cfg, s), Resnet(c, c, cfg, s)])
        groups = cfg.get("attn_norm_num_groups") or cfg["norm_num_groups"]
        self.attentions = nn.ModuleList([Attention(c, cfg["attention_head_dim"], groups, cfg["norm_eps"], s)]) if cfg["add_attention"] else None
    def forward(self, x, temb):
        x = self.resnets[0](x, temb)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x, temb)

DEFAULTS = dict(in_channels=3, out_channels=3, center_input_sample=False, freq_shift=0, flip_sin_to_cos=True,
                layers_per_block=2, mid_block_scale_factor=1, downsample_padding=1, dropout=0.0, act_fn="silu",
                attention_head_dim=8, norm_num_groups=32, norm_eps=1e-5, resnet_time_scale_shift="default",
                add_attention=True, class_embed_type=None, num_class_embeds=None, time_embedding_dim=None)

class UNet2D(nn.Module):
    def __init__(self, config):
        super().__init__()
        cfg = dict(DEFAULTS)
        cfg.update({k: v for k, v in config.items() if not k.startswith("_")})
        boc = cfg["block_out_channels"]
        cfg["temb"] = cfg["time_embedding_dim"] or boc[0] * 4
        self.cfg = cfg
        self.conv_in = nn.Conv2d(cfg["in_channels"], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], cfg["temb"])
        if cfg["class_embed_type"] == "timestep":
            self.class_embedding = TimestepEmbedding(boc[0], cfg["temb"])
        elif cfg["class_embed_type"] is None and cfg["num_class_embeds"] is not None:
            self.class_embedding = nn.Embedding(cfg["num_class_embeds"], cfg["temb"])
        else:
            self.class_embedding = None
        self.down_blocks = nn.ModuleList()
        out = boc[0]
        for i, t in enumerate(cfg["down_block_types"]):
            cin, out = out, boc[i]
            self.down_blocks.append(Down(cin, out, t == "AttnDownBlock2D", i < len(boc) - 1, cfg))
        self.mid_block = Mid(boc[-1], cfg)
        rev = list(reversed(boc))
        self.up_blocks = nn.ModuleList()
        out = rev[0]
        for i, t in enumerate(cfg["up_block_types"]):
            prev, out = out, rev[i]
            cin = rev[min(i + 1, len(rev) - 1)]
            self.up_blocks.append(Up(cin, prev, out, t == "AttnUpBlock2D", i < len(rev) - 1, cfg))
        self.conv_norm_out = nn.GroupNorm(cfg["norm_num_groups"], boc[0], eps=cfg["norm_eps"])
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, class_labels=None):
        cfg = self.cfg
        if cfg["center_input_sample"]:
            sample = 2 * sample - 1.0
        t = timestep * torch.ones(sample.shape[0], dtype=timestep.dtype)
        dim = cfg["block_out_channels"][0]
        emb = self.time_embedding(sinusoid(t, dim, cfg["flip_sin_to_cos"], cfg["freq_shift"]))
        if self.class_embedding is not None:
            if cfg["class_embed_type"] == "timestep":
                emb = emb + self.class_embedding(sinusoid(class_labels, dim, cfg["flip_sin_to_cos"], cfg["freq_shift"]))
            else:
                emb = emb + self.class_embedding(class_labels)
        x = self.conv_in(sample)
        skips = [x]
        for d in self.down_blocks:
            x, s = d(x, emb)
            skips += s
        x = self.mid_block(x, emb)
        for u in self.up_blocks:
            x = u(x, skips, emb)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))

if __name__ == "__main__":
    DIR = sys.argv[1]
    with open(os.path.join(DIR, "csharp", "config.json")) as f:
        config = json.load(f)
    inputs = read_safetensors(os.path.join(DIR, "inputs.safetensors"))
    labels = inputs.get("class_labels")
    def run(m):
        return m(inputs["sample"], inputs["timestep"], labels)
    m = UNet2D(config)
    m.load_state_dict(read_safetensors(os.path.join(DIR, "csharp", "diffusion_pytorch_model.safetensors")), strict=True)
    m.eval()
    run(m).numpy().astype("<f4").tofile(os.path.join(DIR, "out_csharp.bin"))
    torch.manual_seed(7)
    fresh = UNet2D(config)
    for name, p in fresh.named_parameters():
        if p.dim() == 1:
            p.uniform_(-0.5, 0.5) if name.endswith("bias") else p.uniform_(0.5, 1.5)
    fresh.eval()
    os.makedirs(os.path.join(DIR, "python"), exist_ok=True)
    write_safetensors(os.path.join(DIR, "python", "diffusion_pytorch_model.safetensors"), fresh.state_dict())
    with open(os.path.join(DIR, "python", "config.json"), "w") as f:
        json.dump(config, f)
    run(fresh).numpy().astype("<f4").tofile(os.path.join(DIR, "out_python.bin"))
