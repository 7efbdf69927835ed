// Which k indices torch.topk (largest, CPU) picks from a row, ties included.
//
// The TaskAlignedAssigner takes the top 10 alignment metrics of each ground-truth box over all
// anchors, and most metrics are exactly 0 (anchors outside the box). When a box has fewer than
// 10 positive metrics, the remaining picks are zeros, and which zeros torch picks decides which
// in-box anchors with a zero metric become positives. torch's CPU kernel is not stable: it fills a
// vector of (value, index) pairs and runs libstdc++'s std::partial_sort (when k * 64 <= n) or
// std::nth_element with the comparator `a.value > b.value`, so the set depends on those
// algorithms' exact swap order. This file replays them step by step (heap select; introselect
// with median-of-three pivots and a final insertion sort) on plain arrays. Only the chosen set
// matters to the assigner, so the final sorting torch does inside the top k is skipped.
// Verified against torch 1.13 on tie-heavy rows in test/nn/loss/topk_host.test.ts.

/** Indices of the k largest values of `row` exactly as torch.topk on CPU selects them (unordered). */
export function torchTopkIndices(row: ArrayLike<number>, k: number): Int32Array {
  const n = row.length;
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`torchTopkIndices: k ${k} is out of range for a row of ${n}`);
  if (k === 0) return new Int32Array(0);
  const s = new Sorter(row);
  if (k * 64 <= n) s.heapSelect(0, k, n);
  else s.nthElement(0, k - 1, n);
  return s.idx.slice(0, k);
}

/** libstdc++'s algorithms over parallel arrays of values and indices, comparator "greater than". */
class Sorter {
  readonly val: Float64Array;
  readonly idx: Int32Array;

  constructor(row: ArrayLike<number>) {
    this.val = Float64Array.from(row);
    this.idx = Int32Array.from({ length: row.length }, (_, i) => i);
  }

  /** comp(a, b): a ranks before b. NaN ranks first, as torch wants. */
  private before(va: number, vb: number) {
    return (Number.isNaN(va) && !Number.isNaN(vb)) || va > vb;
  }
  private comp(i: number, j: number) {
    return this.before(this.val[i], this.val[j]);
  }
  private swap(i: number, j: number) {
    const v = this.val[i],
      x = this.idx[i];
    ((this.val[i] = this.val[j]), (this.idx[i] = this.idx[j]));
    ((this.val[j] = v), (this.idx[j] = x));
  }
  private move(to: number, from: number) {
    this.val[to] = this.val[from];
    this.idx[to] = this.idx[from];
  }

  // ---- heaps (std::__make_heap, __adjust_heap, __push_heap, __pop_heap) ----------------------

  /** Sifts the hole at `hole` down to a leaf, then pushes (v, x) back up (std::__adjust_heap). */
  private adjustHeap(first: number, hole: number, len: number, v: number, x: number) {
    const top = hole;
    let child = hole;
    while (child < Math.floor((len - 1) / 2)) {
      child = 2 * (child + 1);
      if (this.comp(first + child, first + child - 1)) child--;
      this.move(first + hole, first + child);
      hole = child;
    }
    if ((len & 1) === 0 && child === Math.floor((len - 2) / 2)) {
      child = 2 * (child + 1);
      this.move(first + hole, first + child - 1);
      hole = child - 1;
    }
    // std::__push_heap
    let parent = Math.floor((hole - 1) / 2);
    while (hole > top && this.before(this.val[first + parent], v)) {
      this.move(first + hole, first + parent);
      hole = parent;
      parent = Math.floor((hole - 1) / 2);
    }
    this.val[first + hole] = v;
    this.idx[first + hole] = x;
  }

  private makeHeap(first: number, last: number) {
    const len = last - first;
    if (len < 2) return;
    for (let parent = Math.floor((len - 2) / 2); ; parent--) {
      this.adjustHeap(first, parent, len, this.val[first + parent], this.idx[first + parent]);
      if (parent === 0) return;
    }
  }

  /** std::__heap_select: after it, [first, middle) holds the top (middle - first) elements. */
  heapSelect(first: number, middle: number, last: number) {
    this.makeHeap(first, middle);
    for (let i = middle; i < last; i++) {
      if (this.comp(i, first)) {
        // std::__pop_heap(first, middle, i): the heap top moves to i, the old *i sifts in
        const v = this.val[i],
          x = this.idx[i];
        this.move(i, first);
        this.adjustHeap(first, 0, middle - first, v, x);
      }
    }
  }

  // ---- std::nth_element (introselect) ---------------------------------------------------------

  nthElement(first: number, nth: number, last: number) {
    if (first === last || nth === last) return;
    let depth = 2 * Math.floor(Math.log2(last - first));
    while (last - first > 3) {
      if (depth === 0) {
        this.heapSelect(first, nth + 1, last);
        this.swap(first, nth);
        return;
      }
      depth--;
      const cut = this.partitionPivot(first, last);
      if (cut <= nth) first = cut;
      else last = cut;
    }
    this.insertionSort(first, last);
  }

  /** std::__unguarded_partition_pivot: median of three moved to `first`, then partition. */
  private partitionPivot(first: number, last: number): number {
    const mid = first + Math.floor((last - first) / 2);
    this.moveMedianToFirst(first, first + 1, mid, last - 1);
    let lo = first + 1,
      hi = last;
    for (;;) {
      while (this.comp(lo, first)) lo++;
      hi--;
      while (this.comp(first, hi)) hi--;
      if (!(lo < hi)) return lo;
      this.swap(lo, hi);
      lo++;
    }
  }

  private moveMedianToFirst(result: number, a: number, b: number, c: number) {
    if (this.comp(a, b)) {
      if (this.comp(b, c)) this.swap(result, b);
      else if (this.comp(a, c)) this.swap(result, c);
      else this.swap(result, a);
    } else if (this.comp(a, c)) this.swap(result, a);
    else if (this.comp(b, c)) this.swap(result, c);
    else this.swap(result, b);
  }

  private insertionSort(first: number, last: number) {
    if (first === last) return;
    for (let i = first + 1; i < last; i++) {
      const v = this.val[i],
        x = this.idx[i];
      if (this.before(v, this.val[first])) {
        for (let j = i; j > first; j--) this.move(j, j - 1); // std::move_backward
        ((this.val[first] = v), (this.idx[first] = x));
      } else {
        // std::__unguarded_linear_insert
        let j = i;
        while (this.before(v, this.val[j - 1])) {
          this.move(j, j - 1);
          j--;
        }
        ((this.val[j] = v), (this.idx[j] = x));
      }
    }
  }
}
