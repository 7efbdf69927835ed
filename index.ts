// Package entry: the YOLO class (train / val / predict / export, like Ultralytics' `YOLO(...)`),
// the model builders, the engine (tensors, ops, autograd, devices) under `engine`, and the graph
// tracer and passes under `graph` (graph.traceModule(model, [[1, 3, 640, 640]])).
export { YOLO, type PoseBackend, type YOLOOptions } from './tasks/yolo.js';
export { buildPoseModel, loadPoseModel, PoseModel } from './models/index.js';
export * as engine from './engine/index.js';
export * as graph from './engine/graph/index.js';
export { Callbacks, CALLBACK_EVENTS, type Callback, type CallbackEvent } from './tasks/callbacks.js';
