// nn/: modules with PyTorch's contract and Ultralytics' names. Imports engine/ only.
export * from './module.js';
export * from './layers.js';
export * from './blocks.js';
export * from './head.js';
