// A dataset folder the user picks (`<input type=file webkitdirectory>`) into the in-memory file
// tree, in Ultralytics' layout: a data yaml at the folder's top (train, val, names, kpt_shape)
// beside images/ and labels/. The picked folder is the dataset's root, wherever its yaml's
// `path:` pointed on the machine it came from (Ultralytics' own yamls say ../datasets/<name>), so
// the page's copy of the yaml gets `path:` set to the folder in memory; then it is read by the
// same loadDatasetYaml as in Node, so a broken yaml or a missing split fails here, naming the file.
//
// Imports: ../platform/fs, tasks/data/dataset, yaml.
import { parseDocument } from 'yaml';
import { putFile } from '../platform/fs.js';
import { loadDatasetYaml, type DatasetConfig } from '../../../tasks/data/dataset.js';

/** One picked file: its path inside the picked folder's parent (File.webkitRelativePath) and bytes. */
export interface PickedFile {
  path: string;
  data: Uint8Array;
}

export interface PickedDataset {
  /** the folder's name */
  name: string;
  /** the yaml to train with (data=...), in memory */
  yaml: string;
  files: number;
  config: DatasetConfig;
}

const YAML = /\.ya?ml$/i;

/** The picked files of one folder into /data/<folder>/; resolves with the yaml to train on. */
export function loadDatasetFolder(picked: PickedFile[], root = '/data'): PickedDataset {
  if (!picked.length)
    throw new Error(
      'dataset folder: no files were picked (choose the folder that holds the data yaml, images/ and labels/)',
    );
  const tops = new Set(picked.map((f) => f.path.split('/')[0]));
  if (tops.size !== 1 || picked.some((f) => !f.path.includes('/')))
    throw new Error(`dataset folder: expected the files of one folder (got ${[...tops].slice(0, 3).join(', ')})`);
  const name = [...tops][0];
  const dir = `${root}/${name}`;
  for (const f of picked) putFile(`${root}/${f.path}`, f.data);

  const yamls = picked.filter((f) => f.path.split('/').length === 2 && YAML.test(f.path));
  if (!yamls.length)
    throw new Error(
      `dataset folder ${name}: no data yaml at its top (Ultralytics' layout: ${name}/<data>.yaml with train, val, names and kpt_shape, beside images/ and labels/)`,
    );
  // a folder may also hold other yamls (hyperparameters...): the data yaml is the one with train: and val:
  const dec = new TextDecoder();
  const docs = yamls.map((f) => ({ f, doc: parseDocument(dec.decode(f.data)) }));
  const found = docs.find(({ doc }) => !doc.errors.length && doc.has('train') && doc.has('val')) ?? docs[0];
  const file = `${root}/${found.f.path}`;
  if (found.doc.errors.length) throw new Error(`${found.f.path}: invalid YAML (${found.doc.errors[0].message})`);
  found.doc.set('path', dir);
  putFile(file, String(found.doc));
  const config = loadDatasetYaml(file); // names the file and the field when something is wrong
  // a split is a folder (or a .txt list) among the picked files
  const picks = (p: string) => picked.some((f) => `${root}/${f.path}` === p || `${root}/${f.path}`.startsWith(`${p}/`));
  for (const split of ['train', 'val'] as const)
    for (const p of [config[split]].flat())
      if (p && !picks(p))
        throw new Error(
          `${found.f.path}: '${split}:' names ${p.slice(dir.length + 1) || p}, which is not in the picked folder`,
        );
  return { name, yaml: file, files: picked.length, config };
}

/** A FileList from `<input webkitdirectory>` as PickedFiles. */
export async function readPicked(files: Iterable<File>): Promise<PickedFile[]> {
  return Promise.all(
    [...files].map(async (f) => ({
      path: f.webkitRelativePath || f.name,
      data: new Uint8Array(await f.arrayBuffer()),
    })),
  );
}
