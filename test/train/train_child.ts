// A training run in a child process, for the kill -9 test: argv[2] is the JSON of its overrides.
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { quiet } from './helpers.js';

await new PoseTrainer(JSON.parse(process.argv[2]), quiet).train();
