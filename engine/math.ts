// Scalar helpers that several layers need to agree on, bit for bit.

/**
 * Round half to even (IEEE roundTiesToEven): torch.round, numpy's round, WGSL round(), OpenCV's
 * cvRound. The sign is kept, so -0.4 rounds to -0 as it does in torch.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties go up: fix the odd ones
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's round(x) to an int: round half to even, and no -0 (Python ints have no sign bit). */
export function pyRound(x: number): number {
  return roundHalfEven(x) + 0;
}
