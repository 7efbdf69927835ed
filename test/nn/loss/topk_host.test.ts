import t from 'tap';
import { torchTopkIndices } from '../../../nn/loss/topk_host.js';
import { loadFixture } from './fixtures.js';

const fx = loadFixture('topk');

t.test('picks the same indices as torch.topk on CPU, ties included (partial_sort and nth_element paths)', async (t) => {
  for (const n of [2100, 640, 639, 525, 84, 21]) {
    const x = fx.get(`x_${n}`),
      idx = fx.get(`idx_${n}`);
    const rows = x.shape[0];
    let same = 0;
    for (let r = 0; r < rows; r++) {
      const got = [...torchTopkIndices(x.data.subarray(r * n, (r + 1) * n), 10)].sort((a, b) => a - b);
      const want = [...idx.data.subarray(r * 10, (r + 1) * 10)];
      if (got.join() === want.join()) same++;
      else t.comment(`n ${n} row ${r}: got ${got} want ${want}`);
    }
    t.equal(same, rows, `${rows} rows of ${n}`);
  }
});

t.test('simple cases and bad k', async (t) => {
  t.same([...torchTopkIndices([0.1, 0.9, 0.5, 0.7], 2)].sort(), [1, 3]);
  t.same([...torchTopkIndices([3, 1, 2], 3)].sort(), [0, 1, 2]);
  t.equal(torchTopkIndices([1, 2], 0).length, 0);
  t.throws(() => torchTopkIndices([1, 2], 3), /torchTopkIndices: k 3 is out of range for a row of 2/);
});
