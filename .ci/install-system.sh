#!/usr/bin/env bash
# System packages a fresh Debian bookworm machine lacks:
# - lavapipe (Mesa's Vulkan driver on the CPU) from bookworm-backports: Dawn refuses bookworm's Mesa 22;
# - Debian's python3-torch and python3-onnx, used only to cross-check files we write with PyTorch and by the benchmarks
#   (never at run time). Set SKIP_TORCH=1 to leave it out;
# - ffmpeg (and its ffprobe): video and stream sources are decoded and annotated videos encoded through it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

if ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; then
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -t bookworm-backports libvulkan1 mesa-vulkan-drivers >/dev/null
fi

if [ -z "${SKIP_TORCH:-}" ] && ! /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3-torch python3-numpy python3-onnx >/dev/null
fi
# Graphviz's `dot`: test/graph/dot.test.ts renders a traced graph to PNG with it (skipped without it).
if ! command -v dot >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq graphviz >/dev/null
fi
# Arm NN's TFLite parser + reference CPU backend: test/export/tflite.test.ts runs our .tflite files in it.
if ! /usr/bin/python3 -c 'import pyarmnn' 2>/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22 >/dev/null
fi
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq ffmpeg >/dev/null
fi
# Chromium: test/web/browser.test.ts drives the page headless with WebGPU on SwiftShader (web/README.md).
if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "system packages ready: $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
