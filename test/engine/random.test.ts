// engine/random: a Generator owns its state (torch.Generator); the default one backs manualSeed and the ops.
import t from 'tap';
import { Generator, getRngState, random, seed } from '../../engine/random.js';

t.test('a Generator seeded like the default one gives the same stream, without moving it', async (t) => {
  seed(7);
  const want = Array.from({ length: 5 }, () => random());
  seed(7);
  const before = getRngState();
  const g = new Generator(7);
  t.same(
    Array.from({ length: 5 }, () => g.random()),
    want,
    'same seed, same numbers',
  );
  t.same(getRngState(), before, 'the default generator did not move');
  t.same(
    Array.from({ length: 5 }, () => random()),
    want,
    'and still gives its own stream',
  );
});

t.test('state round-trips; reseeding restarts; streams are independent', async (t) => {
  const a = new Generator(1),
    b = new Generator(2);
  t.not(a.random(), b.random(), 'different seeds differ');
  const s = a.getState();
  const next = [a.random(), a.randomNormal(), a.randomInt(0, 10)];
  a.setState(s);
  t.same([a.random(), a.randomNormal(), a.randomInt(0, 10)], next, 'setState replays');
  t.equal(a.manualSeed(1).random(), new Generator(1).random(), 'manualSeed restarts the stream');
  for (let i = 0; i < 1000; i++) {
    const u = b.random();
    if (!(u >= 0 && u < 1)) t.fail(`random() out of [0, 1): ${u}`);
  }
});
