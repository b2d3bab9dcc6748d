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
    /// PiSSA with PEFT's fast SVD (<c>init_lora_weights="pissa_niter_N"</c>): the top-r singular triplets from
    /// torch's <c>svd_lowrank(W, q=r, niter=N)</c> (Halko et al. 2009, algorithms 4.4 and 5.1: a Gaussian sketch, N
    /// subspace iterations re-orthonormalised by QR, then the exact SVD of the r-column projection), then A and B as
    /// <see cref="Pissa"/>. The factors approximate W's top-r part (closer with more iterations); W_res is still
    /// W − s·B·A, so the layer equals the base at step 0 whatever the error. The sketch draws from
    /// <paramref name="generator"/> (the run's seeded stream; null: torch's global RNG).
    /// </summary>
    public static (Tensor A, Tensor B) PissaLowRank(Tensor weight, int r, double scaling, int niter, Generator? generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(niter);
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);                 // (m, n) = (out, in)
        long m = w.shape[0], n = w.shape[1];
        Tensor u, s, v;                                                  // W ≈ U diag(S) Vᵀ: u (m, r), s (r), v (n, r)
        if (m < n || n > r)
        {
            // torch._lowrank: sketch Wᵀ (n, m) so the projection B_t = W Q is (m, r).
            var q = ApproximateBasis(w.t(), r, niter, generator);       // (n, r), orthonormal columns
            var (ub, sb, vhb) = linalg.svd(w.matmul(q), fullMatrices: false);   // (m, r), (r), (r, r)
            (u, s, v) = (ub, sb, q.matmul(vhb.t()));                    // v (n, r)
        }
        else
        {
            // n ≤ r (so r = n): sketch W itself; B_t = Qᵀ W is (r, n).
            var q = ApproximateBasis(w, r, niter, generator);           // (m, r)
            var (ub, sb, vhb) = linalg.svd(q.t().matmul(w), fullMatrices: false);   // (r, r), (r), (r, n)
            (u, s, v) = (q.matmul(ub), sb, vhb.t());
        }
        var root = (s / scaling).sqrt().diag();                         // (r, r)
        var a = root.matmul(v.t()).contiguous();                        // (r, in)
        var b = u.matmul(root).contiguous();                            // (out, r)
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// torch._lowrank.get_approximate_basis: Q with q orthonormal columns such that Q Qᴴ A ≈ A — Q = qr(A·G) for a
    /// Gaussian G (n × q), then <paramref name="niter"/> times Q = qr(Aᵀ Q), Q = qr(A Q).
    /// </summary>
    private static Tensor ApproximateBasis(Tensor a, int q, int niter, Generator? generator)
    {
        var g = randn([a.shape[1], q], ScalarType.Float32, a.device, generator: generator);   // (n, q)
        var (basis, _) = linalg.qr(a.matmul(g));                        // (m, q)
        for (int i = 0; i < niter; i++)
        {
            (basis, _) = linalg.qr(a.t().matmul(basis));                // (n, q)
            (basis, _) = linalg.qr(a.matmul(basis));                    // (m, q)
        }
        return basis;
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
