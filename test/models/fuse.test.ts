import t from 'tap';
import * as E from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { Conv } from '../../nn/index.js';
import { assertClose, testDevices } from '../helpers.js';

const devices = await testDevices(t);

t.test('fuse(): BatchNorm folded into the convs, same outputs within fp32 tolerance', async (t) => {
  E.manualSeed(0);
  const x = E.rand([1, 3, 64, 96]);
  for (const device of devices) {
    const model = loadPoseModel('test/fixtures/models/yolov8n-pose-seed0.pt', { device }).eval();
    const xd = await x.to(device);
    const ref = await model.predict(xd).data();
    model.fuse();
    t.ok(model.isFused, 'is fused');
    t.notOk(
      model.modules().some((m) => m instanceof Conv && !m.fused),
      'every Conv lost its bn',
    );
    t.notOk(
      [...model.stateDict().keys()].some((k) => k.includes('.bn.')),
      'no bn keys left',
    );
    t.ok(model.stateDict().has('model.0.conv.bias'), 'fused convs have a bias');
    t.notOk(
      model.stateDict().get('model.0.conv.weight')!.requiresGrad,
      'fused weights are frozen, as Ultralytics builds them',
    );
    const got = await model.predict(xd).data();
    let maxRef = 0;
    for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
    assertClose(t, got, ref, `${device.type}: fused vs unfused (max |ref| ${maxRef.toFixed(1)})`, 1e-4, 1e-4 * maxRef);
    model.fuse(); // idempotent
    t.ok(model.isFused);
  }
});
