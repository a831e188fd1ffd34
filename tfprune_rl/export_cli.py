"""Export a run's network from any of its checkpoints:
tfprune-export --run_dir=DIR [--checkpoint=latest|N] [--format=saved_model,tflite]
[--quantize=none|dynamic|int8] [--packing=auto|packed|dense] [--output_dir=DIR/export].

Writes output_dir/saved_model/ (stripped, sparse; `serving_default` and the TF-Agents policy
signatures), output_dir/model.tflite with --format including tflite, and output_dir/report.json
(sizes, gzip sizes, per-layer sparsity, what was packed and why, checks). The export is built beside output_dir and
renamed over it only once it is whole and acts like the checkpoint's greedy policy.
"""

import os

from absl import flags, logging

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import fail, file_errors, load_run_config, run_app
from tfprune_rl.export.options import (
    CHECK_OBSERVATIONS, FORMATS, PACKINGS, QUANTIZATIONS, check_export_options,
)
from tfprune_rl.lifecycle.run_dir import checkpoint_steps

PROGRAM = "tfprune-export"
FLAGS = flags.FLAGS
_FLAG_NAMES = ("run_dir", "checkpoint", "format", "quantize", "packing", "serving_batch_size",
               "output_dir", "num_observations")
flags.DEFINE_string("run_dir", None, "Run directory written by tfprune-train.")
flags.DEFINE_string("checkpoint", "latest",
                    "'latest', or the step of one of the run's checkpoints (env step; "
                    "update for offline runs).")
flags.DEFINE_list("format", list(FORMATS), f"Formats to write, from: {', '.join(FORMATS)}. "
                  "The SavedModel is always written; TFLite is converted from its dense "
                  "serving function.")
flags.DEFINE_string("packing", "auto", "How the SavedModels store and serve pruned layers, one "
                    f"of: {', '.join(PACKINGS)}. auto and packed store every kernel (dense or "
                    "convolution) as its kept values and their positions where that is "
                    "smaller; auto multiplies a dense layer packed only where that is faster, "
                    "timed here at --serving_batch_size, and only if the whole network serves "
                    "faster so (other packed kernels are unpacked once, when the model loads); "
                    "packed multiplies every packed dense layer packed; dense stores and "
                    "serves everything dense.")
flags.DEFINE_integer("serving_batch_size", 1, "The batch --packing=auto times the packed and "
                     "dense products at: the batch your server calls the model with. The "
                     "packed product wins at small batches and loses at large ones; report.json "
                     "gives both formats' times at batch 1 and 32.")
flags.DEFINE_string("quantize", "none", f"TFLite quantization, one of: {', '.join(QUANTIZATIONS)} "
                    "(int8 calibrates on --num_observations observations from the env).")
flags.DEFINE_string("output_dir", None, "Where the export goes (default: RUN_DIR/export); an "
                    "existing export there is replaced.")
flags.DEFINE_integer("num_observations", CHECK_OBSERVATIONS, "Observations of a random policy in the run's env, "
                     "on which the exported models must act like the checkpoint's greedy policy.")


def _checkpoint_step(run_dir: str, requested: str) -> int:
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    steps = checkpoint_steps(checkpoint_dir)
    if not steps:
        raise ValueError(f"run_dir {run_dir} has no checkpoints ({checkpoint_dir} holds none)")
    if requested == "latest":
        return steps[-1]
    if not requested.isdigit() or int(requested) not in steps:
        raise ValueError(f"checkpoint={requested} is not in {checkpoint_dir}; choose latest or "
                         f"one of {', '.join(str(step) for step in steps)}")
    return int(requested)


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    logging.set_verbosity(logging.ERROR)  # TF's INFO and PolicySaver's name warnings
    try:
        if not FLAGS.run_dir:
            raise ValueError("--run_dir is required: a directory written by tfprune-train")
        if FLAGS.num_observations < 1:
            raise ValueError(f"num_observations={FLAGS.num_observations} must be >= 1")
        if FLAGS.serving_batch_size < 1:
            raise ValueError(f"serving_batch_size={FLAGS.serving_batch_size} must be >= 1")
        check_export_options(FLAGS.format, FLAGS.quantize, FLAGS.packing)
        config = load_run_config(FLAGS.run_dir)
        step = _checkpoint_step(FLAGS.run_dir, FLAGS.checkpoint)
    except ValueError as error:
        fail(PROGRAM, str(error))
    with quiet_startup():
        from tfprune_rl.envs import random_observations
        from tfprune_rl.export import REPORT_FILE, ExportCheckError, export_network
        from tfprune_rl.value_based.build import export_metadata, restore_q_network
    try:
        output_dir = FLAGS.output_dir or os.path.join(FLAGS.run_dir, "export")
        q_network, time_step_spec, action_spec, train_step = restore_q_network(config, step)
        observations = random_observations(config.env_id, config.sticky_actions,
                                           FLAGS.num_observations, config.seed)
        report = export_network(
            q_network, time_step_spec, action_spec, output_dir, observations,
            export_metadata(config, 0 if config.offline else step), train_step,
            formats=FLAGS.format, quantize=FLAGS.quantize, packing=FLAGS.packing,
            serving_batch_size=FLAGS.serving_batch_size,
        )
    except (*file_errors(), ExportCheckError) as error:
        fail(PROGRAM, str(error))
    where = f"update {step:,}" if config.offline else f"env step {step:,} (update {train_step:,})"
    print(f"exported {where} of {FLAGS.run_dir} to {output_dir}")
    for name, use in (("serving", "deploy this one: plain TensorFlow loads it"),
                      ("saved_model", "for TF-Agents: the policy's action signature")):
        saved = report[name]
        print(f"{name}: {saved['bytes']:,} bytes, {saved['gzip_bytes']:,} gzipped, sparsity "
              f"{saved['sparsity']:.4f} ({use})")
    print(f"dense float32 weights would take {report['dense_equivalent_bytes']:,} bytes")
    packing = report["packing"]
    stored = [name for name, layer in packing["layers"].items() if layer["packed"]]
    served = [name for name, layer in packing["layers"].items() if layer["served"] == "packed"]
    print(f"stored packed: {', '.join(stored) or 'none'}; multiplied packed: "
          + (", ".join(served) if served else f"none ({packing['reason']})"))
    for batch, times in packing.get("batch_ms", {}).items():
        print(f"batch {batch}: {times['packed']:.3f} ms packed, {times['dense']:.3f} ms dense")
    if "tflite" in report:
        lite = report["tflite"]
        print(f"model.tflite ({lite['quantize']}): {lite['bytes']:,} bytes, {lite['gzip_bytes']:,} "
              f"gzipped, same action as the SavedModel on {lite['action_agreement']:.1%} of "
              f"{report['checked_on_observations']} observations")
    print(f"report: {os.path.join(output_dir, REPORT_FILE)}")


def run():
    run_app(PROGRAM, main, _FLAG_NAMES)


if __name__ == "__main__":
    run()
