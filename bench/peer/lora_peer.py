#!/usr/bin/python3
"""Plain-PyTorch peer of the LoraRecipes benchmark.

The same Llama-style decoder (HF names, RMSNorm with fp32 statistics, rotate-half RoPE, GQA, SwiGLU), a
hand-written LoRA linear (h = W x + (alpha/r) B A x, A kaiming-uniform(a=sqrt 5), B = 0), weights read from the
same model.safetensors, the same batch, the same step: fp32 loss summed over scored tokens / count, backward,
clip_grad_norm_(1.0), torch.optim.AdamW(lr=1e-4, weight_decay=0.01). Attention is written out (softmax(QK^T/sqrt d
+ causal) V) because Debian 12's torch 1.13 has no scaled_dot_product_attention; that is what a plain PyTorch
user on this machine runs.

Debian's python3-torch (1.13) has no safetensors package: the file is parsed by hand (8-byte little-endian
header length, JSON header, raw little-endian data).

Usage: /usr/bin/python3 lora_peer.py --model DIR --batch FILE [--steps 12] [--warmup 2] [--precision fp32|bf16]
       [--rank 8] [--alpha 16] [--targets q_proj,v_proj] [--threads N] [--serve]
Prints one JSON object on stdout; with --serve, runs one step per "step" line read from stdin and answers each with
a JSON line (the benchmark drives it in lock-step with its own steps).
"""
import argparse, json, math, os, resource, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


class LoraLinear(nn.Module):
    """Frozen base + (alpha / r) * B(A(x)); A (r, in), B (out, r); LoRA kept in fp32 whatever the base dtype."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        update = F.linear(F.linear(x.float(), self.lora_A), self.lora_B) * self.scaling
        return self.base(x) + update.to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        normed = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)
        return self.weight.to(x.dtype) * normed


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h, bias = c["hidden_size"], c.get("attention_bias", False)
        self.q_proj = nn.Linear(h, self.nh * self.hd, bias=bias)
        self.k_proj = nn.Linear(h, self.nkv * self.hd, bias=bias)
        self.v_proj = nn.Linear(h, self.nkv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)     # (B, nh, T, hd)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.nkv != self.nh:
            k = k.repeat_interleave(self.nh // self.nkv, dim=1)
            v = v.repeat_interleave(self.nh // self.nkv, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask      # (B, nh, T, T)
        y = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.nh * self.hd))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = Mlp(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c.get("tie_word_embeddings"):
            self.lm_head.weight = self.model.embed_tokens.weight     # one tensor, as HF ties them
        hd = c["head_dim"]
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        freqs = torch.outer(torch.arange(c.get("max_position_embeddings", 2048), dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos().float(), emb.sin().float()

    def forward(self, ids):
        t = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin = self.cos[:t].to(x.dtype), self.sin[:t].to(x.dtype)
        mask = torch.full((t, t), float("-inf")).triu(1).to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


class BertLayer(nn.Module):
    """HF BertLayer, post-norm: a = LN(x + dense(attn(x))); y = LN(a + dense(gelu(intermediate(a))))."""

    def __init__(self, c):
        super().__init__()
        h, i, eps = c["hidden_size"], c["intermediate_size"], c.get("layer_norm_eps", 1e-12)
        self.nh, self.hd = c["num_attention_heads"], h // c["num_attention_heads"]
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        self.attention.self.query, self.attention.self.key, self.attention.self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attention.output = nn.Module()
        self.attention.output.dense, self.attention.output.LayerNorm = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(h, i)
        self.output = nn.Module()
        self.output.dense, self.output.LayerNorm = nn.Linear(i, h), nn.LayerNorm(h, eps=eps)

    def forward(self, x, mask):
        b, t, h = x.shape
        s = self.attention.self
        q = s.query(x).view(b, t, self.nh, self.hd).transpose(1, 2)              # (B, nh, T, hd)
        k = s.key(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        v = s.value(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask         # (B, nh, T, T); mask (B, 1, 1, T)
        y = (torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v).transpose(1, 2).reshape(b, t, h)
        a = self.attention.output.LayerNorm(x + self.attention.output.dense(y))
        return self.output.LayerNorm(a + self.output.dense(F.gelu(self.intermediate.dense(a))))


class BertForSequenceClassification(nn.Module):
    """HF names: bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.dense, classifier; token types all 0; no dropout."""

    def __init__(self, c, num_labels):
        super().__init__()
        h = c["hidden_size"]
        self.bert = nn.Module()
        e = self.bert.embeddings = nn.Module()
        e.word_embeddings = nn.Embedding(c["vocab_size"], h)
        e.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        e.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), h)
        e.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])
        self.bert.pooler = nn.Module()
        self.bert.pooler.dense = nn.Linear(h, h)
        self.classifier = nn.Linear(h, num_labels)

    def forward(self, ids, attention_mask):
        return self.classifier(torch.tanh(self.bert.pooler.dense(encode(self, ids, attention_mask)[:, 0])))   # (B, L)


def bert_weights(weights):
    """A base BertModel checkpoint (no "bert." prefix, as all-MiniLM-L6-v2's) under the classifier's names."""
    return {(k if k.startswith("bert.") else "bert." + k): v for k, v in weights.items()}


def inject(model, r, alpha, targets):
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and name not in ("lm_head", "classifier") and ("all-linear" in targets or name in targets):
                setattr(module, name, LoraLinear(child, r, alpha))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--targets", default="q_proj,v_proj")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help="run one step per 'step' line on stdin (lock-step with the benchmark)")
    ap.add_argument("--classify", action="store_true", help="BERT sequence classifier: the batch file holds input_ids (B, T), "
                    "labels (B) and the head (classifier.weight/bias); LoRA on --targets, the head trained in full")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.classify:
        return classify(a)

    with open(os.path.join(a.model, "config.json")) as f:
        c = json.load(f)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(c)
    weights = read_safetensors(os.path.join(a.model, "model.safetensors"))
    if c.get("tie_word_embeddings") and "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    model.load_state_dict(weights, strict=True)
    if a.precision == "bf16":
        model.to(torch.bfloat16)
    for p in model.parameters():
        p.requires_grad_(False)
    inject(model, a.rank, a.alpha, set(a.targets.split(",")))
    trainable = [p for n, p in model.named_parameters() if "lora_" in n]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
    batch = read_safetensors(a.batch)
    ids_all = batch["input_ids"]
    # labels: -100 where a position is not scored (a masked prompt); absent = every position scored.
    labels_all = batch.get("labels", ids_all)
    model.train()

    def step():
        t0 = time.perf_counter()
        ids = ids_all.clone()
        labels = labels_all[:, 1:].reshape(-1)
        t1 = time.perf_counter()
        logits = model(ids)
        # As HF's LlamaForCausalLM: logits at every position, cross-entropy ignoring -100.
        loss_sum = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels, ignore_index=-100, reduction="sum")
        scored = int((labels != -100).sum())
        loss_value = loss_sum.item() / scored
        t2 = time.perf_counter()
        (loss_sum / scored).backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        return loss_value, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)

    if a.serve:
        # Lock-step with the benchmark: one step per "step" line on stdin, one JSON line back, so that our steps
        # and the peer's alternate and see the same load on a shared machine.
        print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            if line.strip() != "step":
                break
            loss_value, p = step()
            print(json.dumps({"loss": loss_value, "step_s": dict(zip(("data", "forward", "backward", "optimizer"), p)),
                              "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}), flush=True)
        return 0

    phases = []  # per timed step: data, forward, backward, optimizer
    first_loss = None
    for s in range(1, a.steps + 1):
        loss_value, p = step()
        if s == 1:
            first_loss = loss_value
        if s > a.warmup:
            phases.append(p)
    # The median step, as the C# side does: the machine is shared, bursts land on single steps.
    median = sorted(phases, key=sum)[len(phases) // 2]
    print(json.dumps({
        "first_loss": first_loss,
        "tokens_per_s": ids_all.numel() / sum(median),
        "step_s": dict(zip(("data", "forward", "backward", "optimizer"), median)),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


def classify(a):
    """The benchmark's classification step: logits at the pooled first position, fp32 cross-entropy (mean), backward,
    clip_grad_norm_(1.0), AdamW(lr=1e-4, weight_decay=0.01) over LoRA A/B and the head."""
    with open(os.path.join(a.model, "config.json")) as f:
        c = json.load(f)
    batch = read_safetensors(a.batch)
    ids_all, labels_all = batch["input_ids"], batch["labels"]
    torch.manual_seed(0)
    model = BertForSequenceClassification(c, batch["classifier.weight"].shape[0])
    weights = bert_weights(read_safetensors(os.path.join(a.model, "model.safetensors")))
    weights.update({k: v for k, v in batch.items() if k.startswith("classifier.")})
    model.load_state_dict(weights, strict=True)
    if a.precision == "bf16":
        model.to(torch.bfloat16)
    for p in model.parameters():
        p.requires_grad_(False)
    inject(model, a.rank, a.alpha, set(a.targets.split(",")))
    model.classifier.requires_grad_(True)                # the head trains in full (PEFT's modules_to_save), in the base dtype as ours
    trainable = [p for n, p in model.named_parameters() if "lora_" in n or n.startswith("classifier.")]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
    model.train()

    def step():
        t0 = time.perf_counter()
        ids = ids_all.clone()
        mask = torch.ones_like(ids)
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(ids, mask).float(), labels_all)
        loss_value = loss.item()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        return loss_value, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)

    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        loss_value, p = step()
        print(json.dumps({"loss": loss_value, "step_s": dict(zip(("data", "forward", "backward", "optimizer"), p)),
                          "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}), flush=True)
    return 0


def encode(model, ids, attention_mask):
    """The encoder's last hidden state (B, T, H)."""
    e = model.bert.embeddings
    x = e.LayerNorm(e.word_embeddings(ids) + e.position_embeddings(torch.arange(ids.shape[1])) + e.token_type_embeddings(torch.zeros_like(ids)))
    mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
    for layer in model.bert.encoder.layer:
        x = layer(x, mask)
    return x


if __name__ == "__main__":
    sys.exit(main())
