// The fused optimizer updates of engine/ops/optim_step.ts: one pass over a parameter and its state,
// in place. Tasks are chunks of 1024 elements.
//
// The cpu reference computes each element in f64 from f32 values and f32-rounded constants and
// rounds only what it stores; these kernels do the same in f64x2 (two elements per step, 64-bit
// loads and stores, the odd last element alone), with the loop-invariant constants (1 - lr*wd,
// 1 - beta, lr / bc1) computed once by the launcher the way the loop computes them, so the results
// are bit-identical to the reference.
//
//   optim_sgd(p, g, buf, n, sc, wd, mom, lr, nesterov, t0, t1)
//       g' = g*sc + wd*p; with mom != 0: b = mom*b + g', g' = nesterov ? g' + mom*b : b; p -= lr*g'
//   optim_adamw(p, g, m, v, n, sc, decay, b1, omb1, b2, omb2, lrc1, c2, eps, t0, t1)
//       g' = g*sc; m = b1*m + omb1*g'; v = b2*v + omb2*g'*g'; p = p*decay - lrc1*m / (sqrt(v)/c2 + eps)
//   optim_ema(e, x, n, d, omd, t0, t1)          e = d*e + omd*x
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const addr = (p: string) => `(i32.add ${g(p)} (i32.shl ${g('i')} (i32.const 2)))`;
const k = (name: string) => g(`k_${name}`);

interface Mode {
  ld: (p: string) => string;
  st: (p: string, v: string) => string;
}
const PAIR: Mode = {
  ld: (p) => `(f64x2.promote_low_f32x4 (v128.load64_zero ${addr(p)}))`,
  st: (p, v) => `(v128.store64_lane 0 ${addr(p)} (f32x4.demote_f64x2_zero ${v}))`,
};
const ONE: Mode = {
  ld: (p) => `(f64x2.splat (f64.promote_f32 (f32.load ${addr(p)})))`,
  st: (p, v) => `(f32.store ${addr(p)} (f32.demote_f64 (f64x2.extract_lane 0 ${v})))`,
};

/** [i, end) of the task range's chunks: `body(mode)` two elements at a time, then the odd one */
function chunks(body: (m: Mode) => string, label: string): string {
  return `(local.set $i (i32.shl ${g('t0')} (i32.const 10)))
    (local.set $end (i32.shl ${g('t1')} (i32.const 10)))
    (if (i32.lt_u ${g('n')} ${g('end')}) (then (local.set $end ${g('n')})))
    (block $${label}d (loop $${label}l
      (br_if $${label}d (i32.gt_u (i32.add ${g('i')} (i32.const 2)) ${g('end')}))
      ${body(PAIR)}
      (local.set $i (i32.add ${g('i')} (i32.const 2)))
      (br $${label}l)))
    (if (i32.lt_u ${g('i')} ${g('end')}) (then ${body(ONE)}))`;
}

/** f64 params splatted into f64x2 locals $k_NAME */
const consts = (names: string[]) => ({
  params: names.map((n) => `(param $${n} f64)`).join(' '),
  locals: names.map((n) => `(local $k_${n} v128)`).join(' '),
  init: names.map((n) => `(local.set $k_${n} (f64x2.splat ${g(n)}))`).join(' '),
});

const add = (a: string, b: string) => `(f64x2.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f64x2.sub ${a} ${b})`;
const mul = (a: string, b: string) => `(f64x2.mul ${a} ${b})`;
const div = (a: string, b: string) => `(f64x2.div ${a} ${b})`;

function sgd(): string {
  const c = consts(['sc', 'wd', 'mom', 'lr']);
  // gi = g*sc + wd*p, then the momentum variants, then p -= lr*gi
  const grad = (m: Mode) => `(local.set $gi ${add(mul(m.ld('g'), k('sc')), mul(k('wd'), m.ld('p')))})`;
  const step = (m: Mode) => m.st('p', sub(m.ld('p'), mul(k('lr'), g('gi'))));
  const mom = (m: Mode, nesterov: boolean) =>
    `(local.set $bi ${add(mul(k('mom'), m.ld('b')), g('gi'))}) ${m.st('b', g('bi'))}
      (local.set $gi ${nesterov ? add(g('gi'), mul(k('mom'), g('bi'))) : g('bi')})`;
  return `  (func (export "optim_sgd") (param $p i32) (param $g i32) (param $b i32) (param $n i32) ${c.params}
      (param $nesterov i32) (param $t0 i32) (param $t1 i32)
    (local $i i32) (local $end i32) (local $gi v128) (local $bi v128) ${c.locals}
    ${c.init}
    (if (f64.eq ${g('mom')} (f64.const 0))
      (then ${chunks((m) => `${grad(m)} ${step(m)}`, 'plain')})
      (else (if ${g('nesterov')}
        (then ${chunks((m) => `${grad(m)} ${mom(m, true)} ${step(m)}`, 'nest')})
        (else ${chunks((m) => `${grad(m)} ${mom(m, false)} ${step(m)}`, 'mom')})))))
`;
}

function adamw(): string {
  const c = consts(['sc', 'decay', 'b1', 'omb1', 'b2', 'omb2', 'lrc1', 'c2', 'eps']);
  const body = (m: Mode) => `(local.set $gi ${mul(m.ld('g'), k('sc'))})
      (local.set $mi ${add(mul(k('b1'), m.ld('m')), mul(k('omb1'), g('gi')))})
      (local.set $vi ${add(mul(k('b2'), m.ld('v')), mul(mul(k('omb2'), g('gi')), g('gi')))})
      ${m.st('m', g('mi'))} ${m.st('v', g('vi'))}
      ${m.st('p', sub(mul(m.ld('p'), k('decay')), div(mul(k('lrc1'), g('mi')), add(div(`(f64x2.sqrt ${g('vi')})`, k('c2')), k('eps')))))}`;
  return `  (func (export "optim_adamw") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32) ${c.params}
      (param $t0 i32) (param $t1 i32)
    (local $i i32) (local $end i32) (local $gi v128) (local $mi v128) (local $vi v128) ${c.locals}
    ${c.init}
    ${chunks(body, 'a')})
`;
}

function ema(): string {
  const c = consts(['d', 'omd']);
  return `  (func (export "optim_ema") (param $e i32) (param $x i32) (param $n i32) ${c.params} (param $t0 i32) (param $t1 i32)
    (local $i i32) (local $end i32) ${c.locals}
    ${c.init}
    ${chunks((m) => m.st('e', add(mul(k('d'), m.ld('e')), mul(k('omd'), m.ld('x')))), 'e')})
`;
}

export const optim: WatFragment = { name: 'optim', wat: () => sgd() + adamw() + ema() };
