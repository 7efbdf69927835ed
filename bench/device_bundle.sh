#!/usr/bin/env bash
# Packs the WebGPU benches for a bare GPU machine that has an NVIDIA driver but no Node, no npm
# packages and no Vulkan loader (how bench/README.md's "real GPU" numbers were taken): esbuild
# bundles of bench/device_check.ts, half_check.ts, model_forward.ts and train_coco8.ts (the `webgpu` package left
# external), this machine's node binary and Dawn's dawn.node (xz), and Debian's Vulkan/GL loader
# packages. Run from the repository root; the folder (default gpubench/) is then copied beside the
# repository there and started with `bash gpubench/run.sh`.
set -euo pipefail
out=${1:-gpubench}
mkdir -p "$out/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
(cd "$out" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
for b in device_check half_check model_forward train_coco8; do
  npx esbuild "bench/$b.ts" --bundle --platform=node --format=esm --external:webgpu --outfile="$out/$b.mjs" --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
done
cat > "$out/run.sh" <<'RUN'
set -x
d=$(dirname "$0")
(cd "$d" && xz -d node.xz && chmod +x node && xz -dc dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node && for f in *.deb; do dpkg -x "$f" /; done && ldconfig)
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json} XDG_RUNTIME_DIR=/tmp
W=test/fixtures/models/yolov8n-pose-seed0.pt
"$d/node" "$d/device_check.mjs" --imgsz 320 --batch 2 --weights $W
"$d/node" "$d/half_check.mjs" --runs 20 --batches 1,8,32   # half=True: f16 vs f32 compiled forward, exits 1 on a failed check
"$d/node" "$d/model_forward.mjs" --runs 20 --config 640x1,640x8,640x32,320x8 --devices webgpu --weights $W
for cfg in "640 1" "640 8" "640 32" "320 8"; do set -- $cfg; python3 bench/model_forward_torch.py $W --imgsz $1 --batch $2 --runs 20 --device cuda; done
# workers 0: a bundled prefetch worker would re-run the whole bundle
"$d/node" "$d/train_coco8.mjs" --epochs 150 --device webgpu --workers 0 --out /tmp/train
RUN
du -sh "$out"
