// Shared math, prepended to the kernels that need it.

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit): WGSL has no erf, and BERT's
// GELU is the exact erf form, so tanh-approximate GELU would drift from PyTorch.
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(-z * z + poly);
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

// PyTorch's gelu(approximate='tanh') (Gemma's gelu_pytorch_tanh). tanh's argument is clamped where
// tanh is already +-1 in f32: some adapters build tanh from exp, which overflows past ~44.
fn gelu_tanh(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
  return 0.5 * x * (1.0 + tanh(u));
}

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}
