// metadata.yaml, which Ultralytics writes beside the model files of folder formats (ncnn,
// OpenVINO, Paddle: yaml_save(f / 'metadata.yaml', self.metadata), i.e. yaml.safe_dump with
// sort_keys=False) and its AutoBackend reads back (yaml_load). Here it is read into the
// metadata_props shape (Python str() of each value) that readMetadata already understands.
//
// Imports: yaml, ./metadata.
import { existsSync, readFileSync } from 'node:fs';
import { stringify, parse } from 'yaml';
import { pyStr, type ExportMetadata, type PyValue } from './metadata.js';

export function metadataYaml(m: ExportMetadata): string {
  // names with int keys (`0: person`), strings quoted as PyYAML quotes them (single quotes)
  const doc = { ...m, names: new Map(Object.entries(m.names).map(([k, v]) => [Number(k), v])) };
  return stringify(doc, { indentSeq: false, lineWidth: 0, singleQuote: true });
}

/** metadata.yaml in `dir` as [{key, value: str(v)}], or [] when the folder has none. */
export function readMetadataYaml(file: string): { key: string; value: string }[] {
  if (!existsSync(file)) return [];
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid YAML (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new Error(`${file}: expected a mapping of metadata keys`);
  return Object.entries(doc as Record<string, PyValue>).map(([key, v]) => ({ key, value: pyStr(v, key === 'names') }));
}
