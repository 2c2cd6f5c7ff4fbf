# GPT-2 (transformers' GPT2LMHeadModel semantics), written from the published architecture.
# argv: dir with config.json, model.safetensors, ids.bin, mask.bin; rows. Writes logits.bin.
class Conv1D(nn.Module):
    def __init__(self, nx, nf):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(nx, nf))  # [in, out]
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        shape = x.shape[:-1] + (self.weight.shape[1],)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.n_embd = c["n_head"], c["n_embd"]
        self.c_attn = Conv1D(self.n_embd, 3 * self.n_embd)
        self.c_proj = Conv1D(self.n_embd, self.n_embd)

    def heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.n_head, -1).permute(0, 2, 1, 3)

    def forward(self, x, pad):
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
        s = q.size(-2)
        causal = torch.tril(torch.ones(s, s, dtype=torch.bool))
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min))
        w = w + pad
        a = torch.matmul(F.softmax(w, dim=-1), v)
        b = a.shape[0]
        return self.c_proj(a.permute(0, 2, 1, 3).reshape(b, s, self.n_embd))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        inner = c.get("n_inner") or 4 * c["n_embd"]
        self.c_fc = Conv1D(c["n_embd"], inner)
        self.c_proj = Conv1D(inner, c["n_embd"])
        self.act = ACT[c.get("activation_function", "gelu_new")]

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(c["n_embd"], eps=eps)
        self.attn = Attention(c)
        self.ln_2 = nn.LayerNorm(c["n_embd"], eps=eps)
        self.mlp = Mlp(c)

    def forward(self, x, pad):
        x = x + self.attn(self.ln_1(x), pad)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c.get("layer_norm_epsilon", 1e-5))


class Gpt2LMHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = Transformer(c)

    def forward(self, ids, mask):
        t = self.transformer
        x = t.wte(ids) + t.wpe(generation_positions(mask))
        pad = padding_bias(mask)
        for block in t.h:
            x = block(x, pad)
        return F.linear(t.ln_f(x), t.wte.weight)  # lm_head tied to wte


# Command-line part; bench/gpt2_torch_onnx.py loads this file for the module only.
if __name__ == "__main__":
    d, rows = sys.argv[1], int(sys.argv[2])
    config = json.load(open(d + "/config.json"))
    state, meta = read_safetensors(d + "/model.safetensors")
    assert meta.get("format") == "pt", meta
    model = Gpt2LMHead(config)
    model.load_state_dict(state, strict=True)  # names and shapes exactly as the HF checkpoint
    ids, mask = read_ids(d + "/ids.bin", rows), read_ids(d + "/mask.bin", rows)
    write(d + "/logits.bin", model(ids, mask))
