#!/usr/bin/python3
"""Plain-PyTorch peer of the benchmark's end-to-end row: what `dotnet-lora run` does on the generated recipe, written
as a PyTorch user would, in one fresh process.

Same work as the recipe: load the model (safetensors parsed by hand: Debian's torch 1.13 has no safetensors package),
LoRA r on the targets (lora_peer.LoraLinear), read the data, hold out the same number of validation examples, pack the
training examples into rows of at most --max-length tokens (best-fit decreasing, each sample with its own positions and
a block-diagonal causal mask, its first label ignored: the trainer's packing), evaluate the validation loss before
training, train --steps AdamW steps of --batch rows (fp32 loss over the scored tokens, clip 1.0, linear schedule with
3 % warm-up), evaluate again, and write the adapter (safetensors) and a resumable checkpoint (adapter + AdamW state),
each fsynced.

The data file holds each record's token ids (the benchmark tokenises the recipe's text with the model's tokenizer:
there is no `tokenizers` package for Debian's python3), so the peer's data time excludes tokenisation; ours includes it.

Prints one JSON line: per-step seconds, tokens per step, first loss, validation losses, peak RSS (ru_maxrss).
"""
import argparse, json, math, os, resource, struct, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lora_peer import LlamaForCausalLM, inject, read_safetensors  # noqa: E402


def pack(lengths, max_length):
    """Best-fit decreasing (SequencePacker.Groups): longest first, each into the fullest row that still has room."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows, free = [], []
    for i in order:
        n = min(lengths[i], max_length)
        best = None
        for r, f in enumerate(free):
            if f >= n and (best is None or (f, r) < (free[best], best)):
                best = r
        if best is None:
            rows.append([i])
            free.append(max_length - n)
        else:
            rows[best].append(i)
            free[best] -= n
    return rows


def collate(samples, packed):
    """(ids, labels, positions, additive mask (B, 1, T, T)) for samples = list of rows, each a list of id lists."""
    t = max(sum(len(s) for s in row) for row in samples)
    b = len(samples)
    ids = torch.zeros(b, t, dtype=torch.long)
    labels = torch.full((b, t), -100, dtype=torch.long)
    pos = torch.zeros(b, t, dtype=torch.long)
    seg = torch.full((b, t), -1, dtype=torch.long)
    for r, row in enumerate(samples):
        at = 0
        for k, s in enumerate(row):
            n = len(s)
            ids[r, at:at + n] = torch.tensor(s)
            labels[r, at:at + n] = torch.tensor(s)
            labels[r, at] = -100                      # nothing precedes a sample's first token in its row
            pos[r, at:at + n] = torch.arange(n)
            seg[r, at:at + n] = k
            at += n
        seg[r, at:] = torch.arange(len(row), len(row) + t - at)   # padding attends to itself only (no NaN rows)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    allowed = causal & (seg[:, :, None] == seg[:, None, :]) if packed else causal.expand(b, t, t)
    mask = torch.zeros(b, 1, t, t).masked_fill(~allowed[:, None], float("-inf"))
    return ids, labels, pos, mask


def hidden(model, ids, pos, mask):
    x = model.model.embed_tokens(ids)
    cos, sin = model.cos[pos][:, None].to(x.dtype), model.sin[pos][:, None].to(x.dtype)   # (B, 1, T, hd)
    for layer in model.model.layers:
        x = layer(x, cos, sin, mask)
    return model.model.norm(x)


def loss_sum(model, batch):
    ids, labels, pos, mask = batch
    logits = model.lm_head(hidden(model, ids, pos, mask))               # (B, T, V), as HF's LlamaForCausalLM
    target = labels[:, 1:].reshape(-1)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), target, ignore_index=-100, reduction="sum")
    return loss, int((target != -100).sum())


def evaluate(model, examples, batch):
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))
    with torch.no_grad():
        for k in range(0, len(order), batch):
            loss, n = loss_sum(model, collate([[examples[i]] for i in order[k:k + batch]], packed=False))
            total, count = total + loss.item(), count + n
    model.train()
    return total / max(count, 1)


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in sorted(tensors.items()):
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="JSON: {\"train\": [[ids]...], \"validation\": [[ids]...]}")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--targets", default="q_proj,v_proj")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
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
    del weights
    for p in model.parameters():
        p.requires_grad_(False)
    inject(model, a.rank, a.alpha, set(a.targets.split(",")))
    trainable = [(n, p) for n, p in model.named_parameters() if "lora_" in n]
    opt = torch.optim.AdamW([p for _, p in trainable], lr=a.lr, weight_decay=0.01)
    warmup = max(1, math.ceil(0.03 * a.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (a.steps - s) / max(1, a.steps - warmup)))

    with open(a.data) as f:
        data = json.load(f)
    train = [e[:a.max_length] for e in data["train"]]
    validation = [e[:a.max_length] for e in data["validation"]]
    rows = [[train[i] for i in row] for row in pack([len(e) for e in train], a.max_length)]
    model.train()
    initial_loss = evaluate(model, validation, a.batch)

    steps, first_loss = [], None
    for s in range(a.steps):
        t0 = time.perf_counter()
        k = (s * a.batch) % len(rows)
        batch = collate(rows[k:k + a.batch], packed=True)
        loss, n = loss_sum(model, batch)
        if first_loss is None:
            first_loss = loss.item() / n
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        steps.append({"seconds": time.perf_counter() - t0, "tokens": sum(len(x) for row in rows[k:k + a.batch] for x in row)})
    final_loss = evaluate(model, validation, a.batch)

    os.makedirs(os.path.join(a.out, "checkpoints"), exist_ok=True)
    write_safetensors(os.path.join(a.out, "adapter_model.safetensors"), {n: p for n, p in trainable})
    with open(os.path.join(a.out, "checkpoints", "state.pt"), "wb") as f:
        torch.save({"step": a.steps, "model": {n: p.detach() for n, p in trainable}, "optimizer": opt.state_dict()}, f)
        f.flush()
        os.fsync(f.fileno())
    print(json.dumps({"steps": steps, "first_loss": first_loss, "initial_validation_loss": initial_loss, "final_validation_loss": final_loss,
                      "rows": len(rows), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
