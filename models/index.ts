// models/: YOLOv8-pose defined in code, its summary, and checkpoints. Imports nn/ and engine/.
export * from './yolov8_pose.js';
export * from './summary.js';
export * from './checkpoint.js';
export * from './layer_table.js';
