/**
 * The built-in demo: examples/char-lm, a character-level language model that
 * trains on one CPU core. `npm start` registers it as a project under this
 * name; the research page starts a loop on it in one click with this preset.
 */
export const DEMO_PROJECT = "demo-char-lm";

/** The search space of examples/char-lm/search-space.json (a test keeps the two equal). */
export const DEMO_SPACE = {
  learning_rate: { type: "log-float", low: 0.0003, high: 0.03 },
  embed_dim: { type: "int", low: 4, high: 24 },
  hidden_size: { type: "int", low: 32, high: 192 },
  context: { type: "int", low: 2, high: 8 },
  batch_size: { type: "categorical", choices: [16, 32, 64] },
} as const;

/** What "Start the demo loop" sends to research.create. */
export const DEMO_LOOP = {
  project: DEMO_PROJECT,
  name: "char-lm: tune with TPE",
  command: "node train.mjs",
  metric: "val_bpb",
  direction: "min" as const,
  budget: "20s",
  maxExperiments: 16,
  optimizer: "tpe" as const,
  space: DEMO_SPACE,
  editable: ["loopy.params.json", "train.mjs"],
  protected: ["prepare.mjs", "input.txt"],
  instructions:
    "Lower val_bpb of the character-level language model in train.mjs. Change hyperparameters in loopy.params.json or the model in train.mjs; never prepare.mjs (the evaluation) or input.txt (the data). Training stops after three quarters of the experiment's budget.",
};
