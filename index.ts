// Package entry: the engine today; the YOLO class joins it as the toolkit issues land.
export * from './engine/index.js';
