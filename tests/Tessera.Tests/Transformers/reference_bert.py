# BERT (transformers' BertForMaskedLM / BertForSequenceClassification semantics), written from the published
# architecture. argv: dir with config.json, mlm/model.safetensors, cls/model.safetensors, ids.bin, mask.bin, types.bin;
# rows. Writes mlm_logits.bin, cls_logits.bin, embeddings.bin (mean pooled over the mask, from the classifier's encoder).
class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = c["hidden_size"]
        self.h = c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(n, n), nn.Linear(n, n), nn.Linear(n, n)

    def forward(self, x, bias):
        b, s, n = x.shape
        split = lambda t: t.view(b, s, self.h, -1).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(n // self.h) + bias
        return torch.matmul(F.softmax(w, dim=-1), v).permute(0, 2, 1, 3).reshape(b, s, n)


class AddNorm(nn.Module):
    def __init__(self, c, n_in):
        super().__init__()
        self.dense = nn.Linear(n_in, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c.get("layer_norm_eps", 1e-12))

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = AddNorm(c, c["hidden_size"])


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACT[c.get("hidden_act", "gelu")]
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = AddNorm(c, c["intermediate_size"])

    def forward(self, x, bias):
        h = self.attention.output(self.attention.self(x, bias), x)
        return self.output(self.act(self.intermediate.dense(h)), h)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], n)
        self.position_embeddings = nn.Embedding(c.get("max_position_embeddings", 512), n)
        self.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), n)
        self.LayerNorm = nn.LayerNorm(n, eps=c.get("layer_norm_eps", 1e-12))

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1])[None]
        return self.LayerNorm(self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(pos))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])


class Bert(nn.Module):
    def __init__(self, c, pooler):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        if pooler:
            self.pooler = Pooler(c)

    def forward(self, ids, mask, types):
        x = self.embeddings(ids, types)
        bias = padding_bias(mask)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c.get("layer_norm_eps", 1e-12))


class Predictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = Transform(c)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))


class Cls(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.predictions = Predictions(c)


class MaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACT[c.get("hidden_act", "gelu")]
        self.bert = Bert(c, pooler=False)
        self.cls = Cls(c)

    def forward(self, ids, mask, types):
        p = self.cls.predictions
        h = p.transform.LayerNorm(self.act(p.transform.dense(self.bert(ids, mask, types))))
        return F.linear(h, self.bert.embeddings.word_embeddings.weight, p.bias)  # decoder tied to word embeddings


class Classifier(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = Bert(c, pooler=True)
        self.classifier = nn.Linear(c["hidden_size"], len(c.get("id2label") or {0: 0, 1: 1}))

    def forward(self, ids, mask, types):
        x = self.bert(ids, mask, types)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        m = mask[:, :, None].float()
        return self.classifier(pooled), (x * m).sum(1) / m.sum(1).clamp(min=1e-9)


d, rows = sys.argv[1], int(sys.argv[2])
config = json.load(open(d + "/mlm/config.json"))
ids, mask, types = read_ids(d + "/ids.bin", rows), read_ids(d + "/mask.bin", rows), read_ids(d + "/types.bin", rows)
mlm = MaskedLM(config)
state, meta = read_safetensors(d + "/mlm/model.safetensors")
assert meta.get("format") == "pt", meta
mlm.load_state_dict(state, strict=True)
write(d + "/mlm_logits.bin", mlm(ids, mask, types))
clf = Classifier(json.load(open(d + "/cls/config.json")))
clf.load_state_dict(read_safetensors(d + "/cls/model.safetensors")[0], strict=True)
logits, pooled = clf(ids, mask, types)
write(d + "/cls_logits.bin", logits)
write(d + "/embeddings.bin", pooled)
