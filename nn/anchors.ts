// Anchor points shared by the Pose head (decoding) and v8PoseLoss (assignment): they depend on
// feature-map shapes only, so they are computed on the host. The grid itself lives with the
// engine's `anchors` op (engine/ops/anchors.ts), which the head calls so a trace records it.

/**
 * Anchor centres (A, 2) as (x, y) in grid units (cell index + offset) and the stride of each
 * anchor (A, 1), as Ultralytics' make_anchors.
 */
export { anchorGrid as makeAnchors } from '../engine/ops/anchors.js';
