#!/usr/bin/env node
// The `yolo` command: `yolo [task] mode key=value ...`, as in Ultralytics.
import { parseArgs, MODES } from './cfg.js';
import { packageVersion } from '../engine/paths.js';
import { parseThreads, releaseDevices } from '../engine/index.js';
import { printProfile, profiler } from '../engine/profile.js';
import { applyCfgFile, checkModeArgs, checkPlainMode, type Mode } from './check_args.js';
import { runWithFilteredStderr, shouldFilterStderr } from './cli_stderr.js';

const HELP = `Usage: yolo [pose] MODE [key=value ...]

Modes:
  train    train a YOLOv8-pose model          yolo pose train data=coco8-pose.yaml model=yolov8n-pose.yaml epochs=100 imgsz=640
  val      validate (box and OKS pose mAP)     yolo pose val model=yolov8n-pose.pt data=coco8-pose.yaml
  predict  run inference on images            yolo pose predict model=yolov8n-pose.pt source=image.jpg
  track    track objects in a video              yolo pose track model=yolov8n-pose.pt source=clip.mp4 tracker=bytetrack.yaml
  export   export to ONNX                     yolo export model=yolov8n-pose.pt format=onnx
  info     model summary                      yolo info model=yolov8n-pose.yaml imgsz=640
  demo     a short engine demo (autograd on the default device)
  app      the browser page on 127.0.0.1 (predict on WebGPU in a tab)   yolo app [port=0] [model=best.pt]
  checks   the versions, devices, adapter limits, ffmpeg, RAM and disk of this machine
  version  print the version
  settings print the user settings      yolo settings | yolo settings runs_dir=path | yolo settings reset
  cfg      print default.yaml (every key and its default)
  copy-cfg write default_copy.yaml here, to edit and pass as cfg=default_copy.yaml

Common keys: device=webgpu|wasm|cpu (default: webgpu on a GPU, wasm on a CPU-only machine), threads=N (wasm)`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'settings') {
    const { settingsCli } = await import('./settings.js');
    return settingsCli(argv.slice(1));
  }
  const parsed = parseArgs(argv);
  let { mode, overrides } = parsed;
  // no mode word: the mode (and every key) may come from cfg=custom.yaml or mode=..., as Ultralytics
  if (mode === 'help' && !argv.some((a) => ['help', '--help', '-h'].includes(a)) && Object.keys(overrides).length) {
    overrides = applyCfgFile(overrides) as typeof overrides;
    mode = typeof overrides.mode === 'string' ? overrides.mode : 'train';
    if (overrides.mode == null)
      console.warn(
        `WARNING ⚠️ 'mode' argument is missing. Valid modes are ${MODES.join(', ')}. Using default 'mode=${mode}'.`,
      );
  }
  // threads=N: the wasm device's thread count, an engine setting rather than a mode argument: it
  // becomes YOLO_THREADS, which the device reads wherever it is opened (an error names threads=)
  if (overrides.threads != null) {
    process.env.YOLO_THREADS = String(parseThreads(overrides.threads as number | string));
    delete overrides.threads;
  }
  if (['train', 'val', 'predict', 'track', 'export'].includes(mode))
    overrides = checkModeArgs(mode as Mode, overrides) as typeof overrides;
  else
    checkPlainMode(
      mode,
      overrides,
      mode === 'info'
        ? ['model', 'imgsz', 'fuse', 'verbose', 'graph']
        : mode === 'demo'
          ? ['device']
          : mode === 'app'
            ? ['port', 'model']
            : [],
    );
  const device = overrides.device == null ? undefined : String(overrides.device);
  switch (mode) {
    case 'help':
      console.log(HELP);
      return 0;
    case 'version':
      console.log(packageVersion());
      return 0;
    case 'checks': {
      const { checksReport } = await import('./checks.js');
      console.log(await checksReport());
      return 0;
    }
    case 'cfg':
    case 'copy-cfg': {
      const { cfgCli, copyCfgCli } = await import('./settings.js');
      return mode === 'cfg' ? cfgCli() : copyCfgCli();
    }
    case 'info': {
      const { infoCli } = await import('./info.js');
      return infoCli(overrides);
    }
    case 'demo': {
      const { demo } = await import('./demo.js');
      await demo(device);
      return 0;
    }
    case 'app': {
      const { appCli } = await import('./app.js');
      return appCli(overrides);
    }
    case 'predict': {
      const { predictCli } = await import('./predict/cli.js');
      return predictCli(overrides);
    }
    case 'track': {
      const { trackCli } = await import('./track/cli.js');
      return trackCli(overrides);
    }
    case 'export': {
      const { exportCli } = await import('./export/cli.js');
      return exportCli(overrides);
    }
    case 'train': {
      const { trainCli } = await import('./train/cli.js');
      return trainCli(overrides);
    }
    case 'val': {
      const { valArgs, valModel } = await import('./val/api.js');
      const { YOLO } = await import('./yolo.js');
      const { model, ...args } = valArgs(overrides);
      await valModel(new YOLO(model), args);
      return 0;
    }
    default:
      throw new Error(`yolo ${mode}: unknown mode (expected one of ${MODES.join(', ')})`);
  }
}

function runHere(argv: string[]) {
  main(argv)
    .then(async (code) => {
      if (profiler.enabled)
        await printProfile(
          `yolo ${process.argv
            .slice(2)
            .filter((a) => !a.includes('='))
            .join(' ')} (the whole run)`,
        ); // YOLO_PROFILE=1: per op kind
      releaseDevices();
      process.exitCode = code;
    })
    .catch((e: Error) => {
      releaseDevices();
      console.error(process.env.YOLO_DEBUG ? e.stack : `Error: ${e.message}`);
      process.exitCode = 1;
    });
}

// Dawn's native limit notices are dropped from a child's stderr (cli_stderr.ts says why)
if (shouldFilterStderr())
  runWithFilteredStderr(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      console.error(`Error: could not start the command: ${e.message} (YOLO_RAW_STDERR=1 runs it in this process)`);
      process.exitCode = 1;
    },
  );
else runHere(process.argv.slice(2));
