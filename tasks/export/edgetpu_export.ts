// format=edgetpu as Ultralytics 8.2.82's export_edgetpu: the full-integer model
// (`<stem>_saved_model/<stem>_full_integer_quant.tflite`, int8 input and output, ./tflite_int8.ts) is what
// Google's edgetpu_compiler takes; it writes `<stem>_full_integer_quant_edgetpu.tflite` beside it.
// The compiler is an x86-64 Linux binary from Coral's apt repository (edgetpu-compiler), not in
// Debian: when it is on PATH it is run with Ultralytics' flags and the metadata appended, as there;
// otherwise the export stops at the full-integer model with one line giving the exact command.
//
// Imports: node, ./tflite, ./metadata (types).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../engine/io/zip.js';
import { tfliteWithMetadata } from './tflite.js';
import type { ExportMetadata } from './metadata.js';

/** The command Ultralytics' export_edgetpu runs: `edgetpu_compiler -s -d -k 10 --out_dir "<folder>" "<model>"`. */
export function edgetpuCommand(tflite: string): string {
  return `edgetpu_compiler -s -d -k 10 --out_dir "${dirname(tflite)}" "${tflite}"`;
}

/** Compiles `tflite` (full-integer) for the Edge TPU when the compiler is installed; returns the file written last. */
export async function exportEdgeTpu(
  tflite: string,
  metadata: ExportMetadata,
  log: (s: string) => void,
  warn: (s: string) => void,
): Promise<string> {
  warn('Edge TPU: WARNING ⚠️ Edge TPU known bug https://github.com/ultralytics/ultralytics/issues/1185');
  const cmd = edgetpuCommand(tflite);
  const version = spawnSync('edgetpu_compiler', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    log(
      `Edge TPU: edgetpu_compiler is not installed (Coral's apt package edgetpu-compiler, x86-64 Linux: https://coral.ai/docs/edgetpu/compiler/); compile the full-integer model with: ${cmd}`,
    );
    return tflite;
  }
  const f = tflite.replace(/\.tflite$/, '_edgetpu.tflite');
  log(`\nEdge TPU: starting export with Edge TPU compiler ${version.stdout.trim().split(/\s+/).pop()}...`);
  log(`Edge TPU: running '${cmd}'`);
  spawnSync('sh', ['-c', cmd], { stdio: 'inherit' });
  if (!existsSync(f)) throw new Error(`Edge TPU: ${cmd} wrote no ${f}`);
  writeFileAtomic(f, [tfliteWithMetadata(readFileSync(f), metadata)]);
  return f;
}
