// The trackers against Ultralytics 8.2.82 (test/fixtures/track/gen_tracker_ids.py): the same scripted
// detections fed to its BYTETracker / BOTSORT and to ours give the same tracks frame by frame (ids,
// boxes from the Kalman state, scores, detection index), and the same Kalman means and covariances at
// a few frames. The assignment solver is checked against brute force on random matrices.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { BYTETracker, type TrackerConfig } from '../../tasks/track/byte_tracker.js';
import { linearAssignment, solveAssignment } from '../../tasks/track/lap.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/track/tracker_ids.json', import.meta.url), 'utf8'));

function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function permutations(n: number, k: number): number[][] {
  // all injective maps of k rows into n columns
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n, k - 1)) for (let j = 0; j < n; j++) if (!p.includes(j)) out.push([...p, j]);
  return out;
}

t.test('assignment solver = brute force', async (t) => {
  const r = rng(7);
  let checked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(r() * 5),
      m = 1 + Math.floor(r() * 5);
    const cost = Array.from({ length: n }, () =>
      Array.from({ length: m }, () => (r() < 0.2 ? Math.floor(r() * 3) / 2 : r())),
    );
    // full assignment of min(n, m) pairs
    const rowCol = solveAssignment(cost.flat(), n, m);
    const got = rowCol.reduce((s, j, i) => s + (j >= 0 ? cost[i][j] : 0), 0);
    const k = Math.min(n, m);
    let best = Infinity;
    if (n <= m)
      for (const p of permutations(m, n))
        best = Math.min(
          best,
          p.reduce((s, j, i) => s + cost[i][j], 0),
        );
    else
      for (const p of permutations(n, m))
        best = Math.min(
          best,
          p.reduce((s, i, j) => s + cost[i][j], 0),
        );
    if (Math.abs(got - best) > 1e-9 || rowCol.filter((j) => j >= 0).length !== k)
      t.fail(`trial ${trial}: ${got} != brute force ${best}`);
    // thresholded (lap's cost_limit): minimise sum over matched pairs of (c - thresh), pairs cost < thresh
    const thresh = 0.2 + r() * 0.8;
    const a = linearAssignment(cost, thresh);
    const gotT = a.matches.reduce((s, [i, j]) => s + cost[i][j] - thresh, 0);
    let bestT = 0;
    for (let size = 1; size <= k; size++) {
      const rowsSets = permutations(n, size).filter((p) => p.every((v, i) => i === 0 || v > p[i - 1]));
      for (const rows of rowsSets)
        for (const cols of permutations(m, size))
          bestT = Math.min(
            bestT,
            rows.reduce((s, i, q) => s + cost[i][cols[q]] - thresh, 0),
          );
    }
    if (Math.abs(gotT - bestT) > 1e-9) t.fail(`trial ${trial}: thresholded ${gotT} != brute force ${bestT}`);
    t.equal(a.unmatchedA.length + a.matches.length, n);
    t.equal(a.unmatchedB.length + a.matches.length, m);
    checked++;
  }
  t.equal(checked, 300, '300 random matrices up to 5x5, square and rectangular, with ties');
  t.same(linearAssignment([], 0.8), { matches: [], unmatchedA: [], unmatchedB: [] });
});

for (const name of ['bytetrack', 'botsort'] as const) {
  t.test(`${name}: same tracks as Ultralytics, frame by frame`, async (t) => {
    const ref = fixture.trackers[name];
    const tracker = new BYTETracker(ref.config as TrackerConfig, 30);
    let frames = 0,
      rows = 0,
      maxBox = 0;
    const bad: string[] = [];
    const states = new Map<string, { mean: number[]; cov_diag: number[]; cov_01: number }>();
    for (const s of ref.states) states.set(`${s.frame}:${s.id}`, s);
    let stateChecks = 0,
      maxState = 0;
    fixture.frames.forEach((d: { xywh: number[][]; conf: number[]; cls: number[] }, f: number) => {
      if (!d.conf.length) return; // no detections: trackers/track.py skips the update
      const out = tracker.update(d.xywh, d.conf, d.cls);
      const want: number[][] = ref.tracks[f];
      frames++;
      const got = out.map((o) => [o.id, o.idx]);
      if (JSON.stringify(got) !== JSON.stringify(want.map((w) => [w[4], w[7]])))
        bad.push(`frame ${f}: ids ${JSON.stringify(got)} vs ${JSON.stringify(want.map((w) => [w[4], w[7]]))}`);
      else
        out.forEach((o, i) => {
          rows++;
          maxBox = Math.max(maxBox, ...o.xyxy.map((v, k) => Math.abs(v - want[i][k])), Math.abs(o.score - want[i][5]));
        });
      for (const tr of tracker.tracked.slice(0, 2)) {
        const s = states.get(`${f}:${tr.trackId}`);
        if (!s) continue;
        stateChecks++;
        const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));
        maxState = Math.max(
          maxState,
          ...s.mean.map((v, k) => rel(tr.mean![k], v)),
          ...s.cov_diag.map((v, k) => rel(tr.cov![k * 9], v)),
          rel(tr.cov![4], s.cov_01),
        );
      }
    });
    t.same(bad, [], `ids and detection indices equal on all ${frames} updated frames`);
    t.ok(rows > 100, `${rows} track rows compared`);
    t.ok(maxBox < 2e-3, `boxes and scores within ${maxBox.toExponential(1)} px`);
    t.ok(stateChecks >= 4, `${stateChecks} Kalman states compared`);
    t.ok(maxState < 1e-5, `Kalman mean and covariance within ${maxState.toExponential(1)} (relative)`);
    const ids = new Set(
      ref.tracks
        .flat()
        .filter(Boolean)
        .map((r: number[]) => r[4]),
    );
    t.ok(ids.size >= 5, `${ids.size} distinct ids in the reference: births, losses and re-finds are exercised`);
  });
}

t.test("BoT-SORT's sparseOptFlow GMC = OpenCV's (Ultralytics GMC) on people.mp4", async (t) => {
  const { FrameReader, probeVideo } = await import('../../tasks/predict/video.js');
  const { SparseOptFlowGMC } = await import('../../tasks/track/gmc.js');
  const file = new URL('../fixtures/video/people.mp4', import.meta.url).pathname;
  const reader = new FrameReader(file, await probeVideo(file));
  const gmc = new SparseOptFlowGMC();
  const want: number[][] = fixture.gmc_people_mp4;
  let worstT = 0,
    worstR = 0;
  for (const [n, w] of want.entries()) {
    const H = gmc.apply((await reader.next())!);
    if (n === 0) t.same(H, [1, 0, 0, 0, 1, 0], 'first frame: identity');
    worstT = Math.max(worstT, Math.abs(H[2] - w[2]), Math.abs(H[5] - w[5]));
    worstR = Math.max(worstR, ...[0, 1, 3, 4].map((k) => Math.abs(H[k] - w[k])));
  }
  reader.close();
  t.ok(
    worstT < 0.5,
    `translation within ${worstT.toFixed(3)} px of OpenCV over ${want.length} frames of a 20 px/frame pan`,
  );
  t.ok(worstR < 2e-3, `rotation/scale within ${worstR.toExponential(1)}`);
});
