// engine/math: the one round-half-even every layer uses, against Python/torch's answers.
import t from 'tap';
import { pyRound, roundHalfEven } from '../../engine/math.js';

t.test('roundHalfEven is torch.round / numpy round: ties to even, sign kept', async (t) => {
  // torch.round(torch.tensor([...], dtype=torch.float64)).tolist()
  const xs = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -2.6, 1e16 + 2, 4503599627370495.5, 0];
  const want = [0, 2, 2, 4, -0, -2, -2, 2, 3, -3, 1e16 + 2, 4503599627370496, 0];
  xs.forEach((x, i) => t.ok(Object.is(roundHalfEven(x), want[i]), `round(${x}) = ${want[i]}, got ${roundHalfEven(x)}`));
  t.ok(Object.is(roundHalfEven(-0.4), -0), 'torch.round(-0.4) is -0.0');
  t.ok(Number.isNaN(roundHalfEven(NaN)));
});

t.test("pyRound is Python's round() to an int: never -0", async (t) => {
  t.ok(Object.is(pyRound(-0.4), 0));
  t.ok(Object.is(pyRound(-0.5), 0));
  t.same([0.5, 1.5, -1.5, 2.675, 1e15 + 0.5].map(pyRound), [0, 2, -2, 3, 1e15]);
});
