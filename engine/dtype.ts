// Element types. f32 is the working type on every device; i32 holds indices and labels;
// f64 exists on the cpu device only, for central-difference gradient checks.
export type DType = 'f32' | 'i32' | 'f64';
export type TypedArray = Float32Array | Int32Array | Float64Array;

export function allocArray(dtype: DType, n: number): TypedArray {
  if (dtype === 'f32') return new Float32Array(n);
  if (dtype === 'i32') return new Int32Array(n);
  return new Float64Array(n);
}

export function arrayFrom(dtype: DType, src: ArrayLike<number>): TypedArray {
  if (dtype === 'f32') return Float32Array.from(src);
  if (dtype === 'i32') return Int32Array.from(src);
  return Float64Array.from(src);
}

export function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  return 'f64';
}

export const isFloat = (d: DType) => d !== 'i32';

/** The WGSL scalar type that stores a dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  if (dtype === 'f64') throw new Error('f64 tensors exist only on the cpu device (WGSL has no f64)');
  return dtype;
}

/** Result dtype of a binary op: f64 wins (cpu gradient checks), then f32, then i32. */
export function promote(a: DType, b: DType): DType {
  if (a === 'f64' || b === 'f64') return 'f64';
  if (a === 'f32' || b === 'f32') return 'f32';
  return 'i32';
}
