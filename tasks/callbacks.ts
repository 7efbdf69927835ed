// Callbacks with Ultralytics 8.2.82's event names (utils/callbacks/base.py): a list of functions per
// event, run in the order they were added and awaited, each given the trainer, validator, predictor
// or export context that fired it.
//
//   const model = new YOLO('yolov8n-pose.pt');
//   model.addCallback('on_train_epoch_end', (trainer) => console.log(trainer.epoch));
//   model.addCallback('on_predict_batch_end', (p) => console.log(p.results.length));
//
// Imports: nothing.

/** Every event, grouped by the mode that fires it, in the order Ultralytics fires them. */
export const CALLBACK_EVENTS = {
  train: [
    'on_pretrain_routine_start',
    'on_pretrain_routine_end',
    'on_train_start',
    'on_train_epoch_start',
    'on_train_batch_start',
    'optimizer_step',
    'on_before_zero_grad',
    'on_train_batch_end',
    'on_train_epoch_end',
    'on_fit_epoch_end',
    'on_model_save',
    'on_train_end',
    'on_params_update',
    'teardown',
  ],
  val: ['on_val_start', 'on_val_batch_start', 'on_val_batch_end', 'on_val_end'],
  predict: [
    'on_predict_start',
    'on_predict_batch_start',
    'on_predict_postprocess_end',
    'on_predict_batch_end',
    'on_predict_end',
  ],
  export: ['on_export_start', 'on_export_end'],
} as const;

export type CallbackEvent = (typeof CALLBACK_EVENTS)[keyof typeof CALLBACK_EVENTS][number];
export type Callback = (ctx: any) => void | Promise<void>;

const ALL: readonly string[] = Object.values(CALLBACK_EVENTS).flat();

export class Callbacks {
  private readonly lists = new Map<CallbackEvent, Callback[]>();

  /** add_callback: appends `fn` to `event`'s list; an unknown event name is an error naming the valid ones. */
  add(event: CallbackEvent, fn: Callback): this {
    if (!ALL.includes(event))
      throw new Error(`addCallback: '${event}' is not a callback event; valid events are ${ALL.join(', ')}`);
    if (typeof fn !== 'function')
      throw new Error(`addCallback('${event}', ...): expected a function, got ${typeof fn}`);
    this.lists.set(event, [...(this.lists.get(event) ?? []), fn]);
    return this;
  }

  /** clear_callback: drops every function of `event`. */
  clear(event: CallbackEvent): this {
    if (!ALL.includes(event))
      throw new Error(`clearCallback: '${event}' is not a callback event; valid events are ${ALL.join(', ')}`);
    this.lists.delete(event);
    return this;
  }

  /** reset_callbacks: drops every function of every event. */
  reset(): this {
    this.lists.clear();
    return this;
  }

  get(event: CallbackEvent): readonly Callback[] {
    return this.lists.get(event) ?? [];
  }

  /** run_callbacks: awaits each function of `event` in turn with `ctx`. */
  async run(event: CallbackEvent, ctx: unknown): Promise<void> {
    for (const fn of this.lists.get(event) ?? []) await fn(ctx);
  }
}
