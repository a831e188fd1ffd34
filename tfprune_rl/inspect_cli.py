"""What an exported model holds: tfprune-inspect PATH [--json].

PATH is a SavedModel directory or a .tflite file. Prints each stored tensor's shape, zeros
fraction, bytes and format (a packed kernel: its dense shape, and the bytes of its kept values
and their positions), the sparsity of the weights (kernels of rank 2 and up), and the raw and
gzip sizes; --json prints the same as one JSON object.
"""

import json

import os

from absl import flags

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import fail, file_errors, run_app

PROGRAM = "tfprune-inspect"
FLAGS = flags.FLAGS
flags.DEFINE_bool("json", False, "Print one JSON object instead of a table.")


def _table(summary: dict) -> str:
    width = max(len(t["name"]) for t in summary["tensors"])
    lines = [f"{'tensor':<{width}}  {'shape':<18} {'dtype':<8} {'zeros':>7} {'bytes':>12}  format"]
    for t in summary["tensors"]:
        shape = "x".join(str(d) for d in t["shape"]) or "scalar"
        lines.append(f"{t['name']:<{width}}  {shape:<18} {t['dtype']:<8} "
                     f"{t['zeros_fraction']:>7.2%} {t['bytes']:>12,}  {t['format']}")
    lines.append(f"weight sparsity {summary['weight_sparsity']:.4f} over "
                 f"{summary['weight_parameters']:,} weights (kernels of rank 2 and up)")
    lines.append(f"size {summary['bytes']:,} bytes, {summary['gzip_bytes']:,} gzipped")
    return "\n".join(lines)


def main(argv):
    if len(argv) != 2:
        fail(PROGRAM, f"expected one PATH (a SavedModel directory or a .tflite file), got {argv[1:]}")
    if not os.path.exists(argv[1]):
        fail(PROGRAM, f"{argv[1]} does not exist; expected a SavedModel directory or a .tflite "
                      "file")
    with quiet_startup():
        from tfprune_rl.export import summarize
    try:
        summary = summarize(argv[1])
    except ValueError as error:  # ours, naming the path and what is wrong
        fail(PROGRAM, str(error))
    except file_errors() as error:
        fail(PROGRAM, f"cannot read {argv[1]}: {type(error).__name__}: {error}")
    print(json.dumps(summary, indent=2) if FLAGS.json else _table(summary))


def run():
    run_app(PROGRAM, main, ("json",))


if __name__ == "__main__":
    run()
