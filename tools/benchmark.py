"""Throughput of the training loop and export sizes, dense vs 95% pruned; replay memory.

    python tools/benchmark.py [--output=benchmark.json] [--only=minatar,nature1,nature3,export]

Each setting trains dense and 95% pruned in fresh processes with the same seed and flags,
alternating (dense, pruned, dense, pruned, ...) for --repeats rounds; each variant keeps its
fastest round, so a burst of load from other processes on this shared machine counts
against neither. Rates come from the loop's last progress interval (past XLA compilation and
warm-up): env steps/s of the whole loop and gradient updates/s. The loop times its phases (acting, env
stepping, replay, train step, other) with perf_counter between progress lines; the report
gives each phase's share of that interval. Ratios are pruned/dense, measured in one run of
this script, so machine load affects both sides alike.

`export` exports a Nature CNN of width 3 on Pong's observations dense and 95% pruned (ERK,
masks from the initial weights' magnitudes at the end of the schedule) with
`tfprune_rl.export.export_network`, and compares the SavedModel and TFLite sizes, raw and gzipped.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from tfprune_rl import pruning  # noqa: E402  (selects Keras 2 before TensorFlow loads)
from tfprune_rl.envs import env_specs, make_gym_env, random_observations  # noqa: E402
from tfprune_rl.export import export_network  # noqa: E402
from tfprune_rl.replay import ReplayBuffer  # noqa: E402
from tfprune_rl.training import TrainConfig  # noqa: E402
from tfprune_rl.training.build import build_q_network  # noqa: E402
from tf_agents.trajectories import time_step as ts  # noqa: E402

# The paper's DQN settings (batch 32, an update every 4 steps), shortened to a steady interval.
COMMON = ["--agent=dqn", "--batch_size=32", "--update_period=4", "--pruning_frequency=50",
          "--eval_episodes=1", "--checkpoint_interval=1000000", "--replay_capacity=20000"]
SETTINGS = {
    "minatar": ["--env=MinAtar/Breakout-v1", "--encoder=minatar", "--width=1",
                "--learning_starts=2000", "--num_env_steps=10000", "--log_interval=4000",
                "--eval_interval=10000"],
    "nature1": ["--env=ALE/Pong-v5", "--encoder=nature", "--width=1",
                "--learning_starts=1000", "--num_env_steps=5000", "--log_interval=2000",
                "--eval_interval=5000"],
    "nature3": ["--env=ALE/Pong-v5", "--encoder=nature", "--width=3",
                "--learning_starts=1000", "--num_env_steps=3000", "--log_interval=1000",
                "--eval_interval=3000"],
}


def _train(root_dir: str, flags: list[str]) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "tfprune_rl.train", f"--root_dir={root_dir}", *flags],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        sys.exit(f"benchmark: training failed for {flags}:\n{result.stderr[-2000:]}")
    with open(os.path.join(root_dir, "metrics.json")) as f:
        return json.load(f)["last_log_interval"]


def _summary(interval: dict) -> dict:
    seconds = interval["phase_seconds"]
    total = sum(seconds.values())
    shares = {phase: value / total for phase, value in seconds.items()}
    return {
        "env_steps_per_second": interval["env_steps_per_second"],
        "updates_per_second": interval["updates_per_second"],
        "phase_share": shares,
        "env_plus_train_share": shares.get("env", 0.0) + shares.get("train", 0.0),
        "env_act_train_share": sum(shares.get(p, 0.0) for p in ("env", "act", "train")),
    }


def _replay_bytes() -> dict:
    """Bytes per transition of a 1M Atari buffer (numpy zero pages: nothing is allocated)."""
    return {
        scheme: ReplayBuffer(1_000_000, (84, 84, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                             scheme=scheme).nbytes / 1_000_000
        for scheme in ("uniform", "prioritized")
    }


def _export_sizes(tmp: str) -> dict:
    """Export sizes of a Nature CNN, width 3, dense and 95% pruned; gzip ratios dense/pruned."""
    env_id = "ALE/Pong-v5"
    env = make_gym_env(env_id)
    observation_spec, action_spec = env_specs(env)
    env.close()
    observations = random_observations(env_id, True, 64, seed=0)
    sizes = {}
    for variant, sparsity in (("dense", 0.0), ("pruned", 0.95)):
        # Masks update every step, so step 80 of 100 (the schedule's end) holds the final sparsity.
        config = TrainConfig(root_dir=tmp, env_id=env_id, agent="dqn", encoder="nature", width=3,
                             sparsity=sparsity, num_env_steps=100, learning_starts=0,
                             schedule=pruning.GradualSchedule(frequency=1))
        q_network = build_q_network(config, observation_spec, action_spec)
        pruning.update_masks(pruning.pruning_wrappers(q_network.stack), 80)
        report = export_network(
            q_network, ts.time_step_spec(observation_spec), action_spec,
            os.path.join(tmp, f"export-{variant}"), observations, {"variant": variant},
            train_step=0, formats=("saved_model", "tflite"))
        sizes[variant] = {key: report[key] for key in ("parameters", "dense_equivalent_bytes")}
        sizes[variant].update({f"{form}_{key}": report[form][key]
                               for form in ("saved_model", "tflite")
                               for key in ("bytes", "gzip_bytes", "sparsity")})
        print(f"export   {variant:6s} sparsity {sizes[variant]['saved_model_sparsity']:.4f}: "
              f"SavedModel {sizes[variant]['saved_model_bytes']:,} bytes, "
              f"{sizes[variant]['saved_model_gzip_bytes']:,} gzipped; TFLite "
              f"{sizes[variant]['tflite_bytes']:,} bytes, {sizes[variant]['tflite_gzip_bytes']:,} "
              "gzipped", flush=True)
    for form in ("saved_model", "tflite"):
        ratio = sizes["dense"][f"{form}_gzip_bytes"] / sizes["pruned"][f"{form}_gzip_bytes"]
        sizes[f"{form}_gzip_dense_over_pruned"] = ratio
        print(f"export   {form} gzipped, dense/pruned: {ratio:.1f}x")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmark.json")
    parser.add_argument("--only", default=",".join([*SETTINGS, "export"]),
                        help=f"comma-separated subset of {', '.join(SETTINGS)}, export")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of dense + pruned")
    args = parser.parse_args()
    names = args.only.split(",")
    unknown = sorted(set(names) - {*SETTINGS, "export"})
    if unknown:
        sys.exit(f"benchmark: error: unknown setting(s) {unknown}; choose from "
                 f"{', '.join([*SETTINGS, 'export'])}")
    if args.repeats < 1:
        sys.exit(f"benchmark: error: --repeats={args.repeats} must be >= 1")

    report = {"settings": {}, "replay_bytes_per_transition_1M_atari": _replay_bytes()}
    with tempfile.TemporaryDirectory() as tmp:
        if "export" in names:
            report["export_nature_width3"] = _export_sizes(tmp)
        for name in (name for name in names if name in SETTINGS):
            rows = {}
            for round_ in range(args.repeats):
                for variant, sparsity in (("dense", "0"), ("pruned", "0.95")):
                    flags = COMMON + SETTINGS[name] + [f"--sparsity={sparsity}"]
                    root_dir = os.path.join(tmp, f"{name}-{variant}-{round_}")
                    row = _summary(_train(root_dir, flags))
                    print(f"{name:8s} {variant:6s} {row['env_steps_per_second']:8.1f} env steps/s "
                          f"{row['updates_per_second']:7.1f} updates/s  env+train "
                          f"{row['env_plus_train_share']:.0%}  env+act+train "
                          f"{row['env_act_train_share']:.0%}", flush=True)
                    best = rows.get(variant)
                    if best is None or row["env_steps_per_second"] > best["env_steps_per_second"]:
                        rows[variant] = row
            rows["pruned_over_dense_time"] = (
                rows["dense"]["env_steps_per_second"] / rows["pruned"]["env_steps_per_second"]
            )
            print(f"{name:8s} pruned/dense loop time: {rows['pruned_over_dense_time']:.3f}")
            report["settings"][name] = rows
    for scheme, size in report["replay_bytes_per_transition_1M_atari"].items():
        print(f"replay, 1M Atari transitions, {scheme}: {size:,.0f} bytes/transition "
              f"({size * 1e6 / 1e9:.2f} GB)")
    tmp_path = f"{args.output}.tmp-{os.getpid()}"
    with open(tmp_path, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp_path, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
