// Distribution Focal Loss decoding (Ultralytics' DFL module), fused: x (B, 4*reg_max, A) holds,
// for each anchor a and box side s, reg_max logits over the distances 0..reg_max-1; the output
// (B, 4, A) is the expected distance Σ_i softmax(x[b, s*reg_max + i, a]) * i.
// One invocation per output; neighbouring invocations are neighbouring anchors, so each of the
// reg_max reads is coalesced when the anchor stride is 1. x is read through its strides (the head
// passes a channel slice of a larger tensor).
#include "index1d.wgsl"

struct Params {
  batch: u32,
  anchors: u32,
  reg_max: u32,
  off: u32,     // element offset of the x view into its buffer
  st_b: u32,    // x strides in elements: batch, channel, anchor
  st_c: u32,
  st_a: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (B, 4, A), contiguous

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid, 256u);
  if (o >= p.batch * 4u * p.anchors) { return; }
  let a = o % p.anchors;
  let side = (o / p.anchors) % 4u;
  let b = o / (4u * p.anchors);
  let base = p.off + b * p.st_b + side * p.reg_max * p.st_c + a * p.st_a;
  var m = x[base];
  for (var i = 1u; i < p.reg_max; i++) {
    m = max(m, x[base + i * p.st_c]);
  }
  var total = 0.0;    // Σ exp(x_i - m)
  var weighted = 0.0; // Σ exp(x_i - m) * i
  for (var i = 0u; i < p.reg_max; i++) {
    let e = exp(x[base + i * p.st_c] - m);
    total += e;
    weighted += e * f32(i);
  }
  out[o] = weighted / total;
}
