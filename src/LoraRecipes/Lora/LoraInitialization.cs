using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// PEFT's data-driven LoRA initialisations (<c>init_lora_weights</c> "pissa" and "olora"). Both take the principal part
/// of W into A and B and leave the base layer with the residual W_res = W − s·B·A, so the adapted model equals the
/// base model at step 0 while A and B start where W has most of its energy. Computed in fp32 as PEFT does.
/// </summary>
public static class LoraInitialization
{
    /// <summary>
    /// PiSSA (PEFT <c>pissa_init</c>): W = U S Vᵀ (reduced SVD); with S_r the top-r singular values divided by s,
    /// A = diag(√S_r) Vᵀ_r (r × in) and B = U_r diag(√S_r) (out × r), so s·B·A is the best rank-r approximation of W.
    /// </summary>
    public static (Tensor A, Tensor B) Pissa(Tensor weight, int r, double scaling)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);                 // (out, in)
        var (u, s, vh) = linalg.svd(w, fullMatrices: false);           // u (out, k), s (k), vh (k, in)
        var sr = s.narrow(0, 0, r) / scaling;                           // (r)
        var root = sr.sqrt().diag();                                    // (r, r)
        var a = root.matmul(vh.narrow(0, 0, r)).contiguous();           // (r, in)
        var b = u.narrow(1, 0, r).matmul(root).contiguous();            // (out, r)
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// OLoRA (PEFT <c>olora_init</c>): W = Q R (reduced QR); B = Q[:, :r] (out × r), A = R[:r] (r × in). Unlike PiSSA the
    /// factors are not divided by s, so s·B·A is s times the first r columns' share of W.
    /// </summary>
    public static (Tensor A, Tensor B) Olora(Tensor weight, int r)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);                 // (out, in)
        var (q, rr) = linalg.qr(w);                                     // q (out, k), rr (k, in)
        var a = rr.narrow(0, 0, r).contiguous();                        // (r, in)
        var b = q.narrow(1, 0, r).contiguous();                         // (out, r)
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }
}
