"""Training throughput (ours against the stock TF-Agents pipeline, dense against 95% pruned), the
cost of a mask update, export sizes, and replay memory.

    python tools/benchmark.py [--output=benchmark.json] [--only=minatar,minatar3,nature1,cost,masks,pictures,export,trained_export]

Every pipeline runs in a fresh process of its own, with the same seed and flags. A setting's
variants alternate (stock, ours dense, ours pruned, ... then again) for --repeats rounds and
each keeps its fastest round, so a burst of load from other processes on this shared machine
counts against none of them. Rates come from the last progress interval (env steps 30,000 to
40,000, past XLA compilation and warm-up), and ratios are between variants of one run of
this script.

- `minatar`, `minatar3`: MinAtar Breakout, `experiments/minatar/dqn.flags` (batch 32, an
  update every 4 env steps), width 1 or 3. The stock pipeline is `tools/stock_tf_agents.py`:
  TF-Agents' driver, replay buffer, dataset and `common.function(agent.train)` with the same
  network and hyperparameters. Ours runs with 1, 8 and 16 envs, dense and 95% pruned at the
  paper's mask frequency (every 1,000 updates).
- `nature1`: Pong, Nature CNN width 1, 8 envs (ale-py's C++ vector env), dense and pruned; the
  share of the loop's time spent in the learner (the XLA call making the updates and acting).
- `cost`: pruned / dense time with the machine's noise taken out: a dense and a 95% pruned
  trainer in one process, inside the pruning window (masks every 1,000 updates), stepping
  alternately in short chunks, 20 x --repeats each; MinAtar widths 1, 3 and 5 (1 and 16
  envs) and Nature width 1 (8 envs): about 40 minutes, or the settings --cost_settings numbers.
- `masks`: one mask update (the XLA-compiled `Updater.update` at a due step) of a 95% ERK
  network by gmp and by set (drop and regrow; rigl adds one gradient), timed on its own:
  MinAtar width 1, Nature widths 1 and 3 (a 14M-weight kernel).
- `pictures`: step time with TensorBoard's mask images and kept-weight histograms on against
  off. One 95% pruned MinAtar width-1 trainer (1 and 16 envs) inside its pruning window runs
  alternate chunks of the default --summary_image_interval (20,000 env steps); an "on" chunk
  ends with the runner's write (the masks changed within every chunk, so each write has
  images). The ratio of the median chunk times, and the time of one write for the Nature
  width-3 network (14.4M weights in one kernel, not yet pruned: the largest histograms).
- `trained_export`: Pong, Nature width 3, trained by tfprune-train dense and 95% GMP (ERK,
  masks every 10 updates so that 600 updates end the schedule); the pruned run exported at
  --serving_batch_size 1 (training's own export) and 32. Both SavedModels' bytes, each
  report's times of both served formats, and the `serving/` models' latency at batch 1 and 32.
- `export`: Nature and Impala encoders (--export_encoders) of widths 1, 3 and 5
  (--export_widths) on Pong's observations, exported dense and at 90%, 95% and 99% ERK
  sparsity (masks from the initial weights) by `tfprune_rl.export.export_network` as training
  exports (packing `auto`). Reports SavedModel and TFLite sizes, raw and gzipped. Reports
  `serving_default` latency of the dense and pruned SavedModels, loaded side by side and
  called alternately, at batch 1 and 32, and the batch at which dense catches up. Prints a
  table and writes a figure (--figure).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from tfprune_rl.console import quiet_startup  # noqa: E402
from tfprune_rl.files import atomic_open  # noqa: E402

with quiet_startup():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts

    from tfprune_rl import pruning, summaries
    from tfprune_rl.envs import env_specs, make_gym_env, random_observations
    from tfprune_rl.export import export_network
    from tfprune_rl.export import packed
    from tfprune_rl.replay import ReplayBuffer
    from tfprune_rl.settings import config_with
    from tfprune_rl.value_based import TrainConfig, value_based_trainer
    from tfprune_rl.value_based.build import build_q_network

MINATAR = ["--flagfile=experiments/minatar/dqn.flags", "--env=MinAtar/Breakout-v1",
           "--num_env_steps=40000", "--learning_starts=5000", "--log_interval=10000",
           "--eval_interval=40000", "--checkpoint_interval=40000", "--eval_episodes=1"]
NATURE = ["--flagfile=experiments/atari/dqn.flags", "--env=ALE/Pong-v5", "--encoder=nature",
          "--width=1", "--num_envs=8", "--num_env_steps=9000", "--learning_starts=1000",
          "--log_interval=3000", "--eval_interval=9000", "--checkpoint_interval=9000",
          "--eval_episodes=1", "--replay_capacity=20000", "--epsilon_decay_steps=10000"]


def _ours(flags: list[str]) -> list[str]:
    return ["-m", "tfprune_rl.train", *flags]


def _minatar_variants(width: int, env_counts: tuple[int, ...]) -> dict[str, list[str]]:
    variants = {"stock": ["tools/stock_tf_agents.py", "--env=MinAtar/Breakout-v1",
                          f"--width={width}", "--num_env_steps=40000",
                          "--learning_starts=5000", "--log_interval=10000"]}
    for envs in env_counts:
        for name, sparsity in (("dense", 0), ("pruned", 0.95)):
            variants[f"ours {envs} env {name}"] = _ours(
                [*MINATAR, f"--width={width}", f"--num_envs={envs}", f"--sparsity={sparsity}"])
    return variants


THROUGHPUT = {
    "minatar": lambda: _minatar_variants(1, (1, 8, 16)),
    "minatar3": lambda: _minatar_variants(3, (1, 16)),
    "nature1": lambda: {f"ours 8 env {name}": _ours([*NATURE, f"--sparsity={sparsity}"])
                        for name, sparsity in (("dense", 0), ("pruned", 0.95))},
}


def _run(args: list[str], root_dir: str) -> dict:
    """One pipeline in a fresh process; its last progress interval's figures."""
    if args[0] == "-m":
        args = [*args, f"--root_dir={root_dir}"]
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    if args[0] != "-m":
        return json.loads(result.stdout.strip().splitlines()[-1])
    with open(os.path.join(root_dir, "metrics.json")) as f:
        interval = json.load(f)["last_log_interval"]
    seconds = interval["phase_seconds"]
    return {"env_steps_per_second": interval["env_steps_per_second"],
            "updates_per_second": interval["updates_per_second"],
            "phase_share": {phase: value / sum(seconds.values())
                            for phase, value in seconds.items()}}


def _throughput(name: str, repeats: int, tmp: str) -> dict:
    variants = THROUGHPUT[name]()
    best = {}
    for round_ in range(repeats):
        for variant, args in variants.items():
            row = _run(args, os.path.join(tmp, f"{name}-{variant.replace(' ', '-')}-{round_}"))
            print(f"{name:8s} {variant:22s} {row['env_steps_per_second']:8.1f} env steps/s "
                  f"{row['updates_per_second']:7.1f} updates/s", flush=True)
            if (variant not in best
                    or row["env_steps_per_second"] > best[variant]["env_steps_per_second"]):
                best[variant] = row
    report = {"variants": best, "ratios": {}}
    for variant, row in best.items():
        if variant.endswith("pruned"):
            dense = best[variant.replace("pruned", "dense")]
            report["ratios"][f"{variant}: pruned/dense time"] = (
                dense["env_steps_per_second"] / row["env_steps_per_second"])
        if "stock" in best and variant != "stock":
            report["ratios"][f"{variant}: x stock"] = (
                row["env_steps_per_second"] / best["stock"]["env_steps_per_second"])
    for ratio, value in report["ratios"].items():
        print(f"{name:8s} {ratio}: {value:.3f}", flush=True)
    return report


def _mask_update_ms(repeats: int = 5) -> dict:
    """One mask update of a 95% ERK network at a due step, best of `repeats` (after one to
    compile)."""
    figures = {}
    for name, env_id, encoder, width in (("minatar width 1", "MinAtar/Breakout-v1", "minatar", 1),
                                         ("nature width 1", "ALE/Pong-v5", "nature", 1),
                                         ("nature width 3", "ALE/Pong-v5", "nature", 3)):
        env = make_gym_env(env_id)
        observation_spec, action_spec = env_specs(env)
        env.close()
        for method in ("gmp", "set"):
            config = config_with(TrainConfig, root_dir="unused", env=env_id, agent="dqn",
                                 encoder=encoder,
                                 width=width, sparsity=0.95, num_env_steps=100,
                                 learning_starts=0, pruning=method,
                                 pruning_frequency=1)
            updater = pruning.create_updater(config.pruning)
            kernels = pruning.masked_kernels(
                build_q_network(config, observation_spec, action_spec, updater).stack)
            update = tf.function(lambda step: updater.update(kernels, step), jit_compile=True)
            update(tf.constant(20, tf.int64))
            times = []
            for step in range(21, 21 + repeats):  # every step is due at frequency 1
                start = time.perf_counter()
                update(tf.constant(step, tf.int64))
                float(kernels[-1].threshold.numpy())  # waits for the update
                times.append(time.perf_counter() - start)
            weights = sum(k.kernel.shape.num_elements() for k in kernels)
            figures[f"{name}, {method}"] = {"ms": 1000 * min(times), "pruned_weights": weights}
            print(f"masks    {name}, {method}: {1000 * min(times):.1f} ms for {weights:,} "
                  "weights", flush=True)
    return figures


INTERLEAVED = {  # setting -> (env, encoder, width, envs, env steps per chunk: 1-5 s here)
    "MinAtar width 1, 1 env": ("MinAtar/Breakout-v1", "minatar", 1, 1, 1000),
    "MinAtar width 1, 16 envs": ("MinAtar/Breakout-v1", "minatar", 1, 16, 4000),
    "MinAtar width 3, 1 env": ("MinAtar/Breakout-v1", "minatar", 3, 1, 400),
    "MinAtar width 3, 16 envs": ("MinAtar/Breakout-v1", "minatar", 3, 16, 1600),
    "MinAtar width 5, 1 env": ("MinAtar/Breakout-v1", "minatar", 5, 1, 200),
    "MinAtar width 5, 16 envs": ("MinAtar/Breakout-v1", "minatar", 5, 16, 640),
    "Nature width 1, 8 envs": ("ALE/Pong-v5", "nature", 1, 8, 400),
}


def _pruning_cost(rounds: int, tmp: str, settings: list[str]) -> dict:
    """Pruned / dense time with the machine's noise taken out: a dense and a 95% pruned
    trainer in one process, past warm-up and inside the pruning window (masks every 1,000
    updates, as in the paper), stepping alternately in short chunks; the ratio of their
    median chunk times (and of their best)."""
    figures = {}
    for name in settings:
        env_id, encoder, width, envs, chunk = INTERLEAVED[name]
        trainers = {}
        for variant, sparsity in (("dense", 0.0), ("pruned", 0.95)):
            config = config_with(TrainConfig,
                root_dir=os.path.join(tmp, f"{name}-{variant}"), env=env_id, agent="dqn",
                encoder=encoder, width=width, sparsity=sparsity, num_envs=envs,
                num_env_steps=4_000_000,
                learning_starts=2000, batch_size=32, update_period=4, replay_capacity=100_000,
                pruning_start=0.0005, pruning_end=0.8)
            os.makedirs(config.root_dir)
            trainer = value_based_trainer(config, log=lambda line: None)
            trainer.start(0)
            while trainer.updates < 2000:  # compiled, masks updated at 500 and 1,500
                trainer.advance()
            trainers[variant] = trainer
        seconds = {variant: [] for variant in trainers}
        for _ in range(rounds):
            for variant, trainer in trainers.items():
                start, first = time.perf_counter(), trainer.env_step
                while trainer.env_step < first + chunk:
                    trainer.advance()
                seconds[variant].append(time.perf_counter() - start)
        median = {variant: float(np.median(times)) for variant, times in seconds.items()}
        figures[name] = {"median_ratio": median["pruned"] / median["dense"],
                         "best_ratio": min(seconds["pruned"]) / min(seconds["dense"]),
                         "dense_env_steps_per_second": chunk / median["dense"],
                         "pruned_env_steps_per_second": chunk / median["pruned"],
                         "rounds": rounds}
        for trainer in trainers.values():
            trainer.envs.close()
        print(f"cost     {name}: pruned / dense time {figures[name]['median_ratio']:.3f} "
              f"(medians of {rounds} alternating chunks of {chunk:,} env steps; best "
              f"{figures[name]['best_ratio']:.3f})", flush=True)
    return figures


def _picture_cost(rounds: int, tmp: str) -> dict:
    interval = TrainConfig().summary_image_interval
    figures = {}
    writer = tf.summary.create_file_writer(os.path.join(tmp, "pictures"))
    for envs in (1, 16):
        config = config_with(TrainConfig,
            root_dir=os.path.join(tmp, f"pictures-{envs}"), env="MinAtar/Breakout-v1",
            agent="dqn", encoder="minatar", width=1, sparsity=0.95, num_envs=envs,
            num_env_steps=4_000_000, learning_starts=2000, batch_size=32, update_period=4,
            replay_capacity=100_000, pruning_start=0.0005, pruning_end=0.8)
        os.makedirs(config.root_dir)
        trainer = value_based_trainer(config, log=lambda line: None)
        trainer.start(0)
        while trainer.updates < 2000:  # compiled, masks updated at 500 and 1,500
            trainer.advance()
        kernels = summaries.KernelSummaries(trainer.networks)
        seconds, writes = {"off": [], "on": []}, []
        with writer.as_default():
            for _ in range(rounds):
                for variant, times in seconds.items():
                    start, first = time.perf_counter(), trainer.env_step
                    while trainer.env_step < first + interval:
                        trainer.advance()
                    if variant == "on":
                        trainer.settle()
                        written = time.perf_counter()
                        kernels.write(trainer.env_step)
                        writes.append(time.perf_counter() - written)
                    times.append(time.perf_counter() - start)
        median = {variant: float(np.median(times)) for variant, times in seconds.items()}
        name = f"MinAtar width 1, {envs} env{'s' * (envs > 1)}"
        figures[name] = {"median_ratio": median["on"] / median["off"],
                         "best_ratio": min(seconds["on"]) / min(seconds["off"]),
                         "write_share": float(np.median(writes)) / median["off"],
                         "write_ms": 1000 * float(np.median(writes)),
                         "off_env_steps_per_second": interval / median["off"],
                         "rounds": rounds}
        print(f"pictures {name}: images and histograms on / off time "
              f"{figures[name]['median_ratio']:.4f} (medians of {rounds} alternating chunks of "
              f"{interval:,} env steps; best {figures[name]['best_ratio']:.4f}); the writes "
              f"themselves: {figures[name]['write_ms']:.1f} ms, "
              f"{figures[name]['write_share']:.2%} of a chunk", flush=True)
    figures["Nature width 3, one write"] = {"ms": _nature3_write_ms(writer)}
    return figures


def _nature3_write_ms(writer) -> float:
    """One write of the Nature width-3 network's images and histograms, best of 3."""
    env = make_gym_env("ALE/Pong-v5")
    observation_spec, action_spec = env_specs(env)
    env.close()
    config = config_with(TrainConfig, root_dir="unused", env="ALE/Pong-v5", agent="dqn",
                         encoder="nature",
                         width=3, sparsity=0.95, num_env_steps=100, learning_starts=0,
                         pruning_frequency=1)
    updater = pruning.create_updater(config.pruning)
    network = build_q_network(config, observation_spec, action_spec, updater)
    times = []  # of the network before pruning: the largest histograms, the worst case
    with writer.as_default():
        for step in range(3):
            kernels = summaries.KernelSummaries({"q_network": network})  # images every time
            start = time.perf_counter()
            kernels.write(step)
            times.append(time.perf_counter() - start)
    print(f"pictures Nature width 3: one write of images and histograms {1000 * min(times):.0f} "
          "ms", flush=True)
    return 1000 * min(times)


def _replay_bytes() -> dict:
    """Bytes per transition of a 1M Atari buffer (numpy zero pages: nothing is allocated)."""
    return {
        scheme: ReplayBuffer(1_000_000, (84, 84, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                             scheme=scheme).nbytes / 1_000_000
        for scheme in ("uniform", "prioritized")
    }


EXPORT_SPARSITIES = (0.9, 0.95, 0.99)
EXPORT_BATCHES = (1, 2, 4, 8, 16, 32)


def _exported(encoder: str, width: int, sparsity: float, output_dir: str, observations) -> dict:
    """One export (packing `auto`, as training does) of a network on Pong's observations, its
    masks computed from the initial weights (ERK)."""
    env = make_gym_env("ALE/Pong-v5")
    observation_spec, action_spec = env_specs(env)
    env.close()
    # Masks update every step, so step 80 of 100 (the schedule's end) holds the final sparsity.
    config = config_with(TrainConfig, root_dir=output_dir, env="ALE/Pong-v5", agent="dqn",
                         encoder=encoder,
                         width=width, sparsity=sparsity, num_env_steps=100, learning_starts=0,
                         pruning_frequency=1)
    updater = pruning.create_updater(config.pruning)
    q_network = build_q_network(config, observation_spec, action_spec, updater)
    if sparsity:
        updater.update(pruning.masked_kernels(q_network.stack), 80)
    return export_network(q_network, ts.time_step_spec(observation_spec), action_spec, output_dir,
                          observations, {"sparsity": sparsity}, train_step=0,
                          formats=("saved_model", "tflite"))


def _serving_ms(paths: dict[str, str], observations, batch: int) -> dict[str, float]:
    """`serving_default` latency of each SavedModel at `batch`, loaded as a user would, called
    alternately, best of 5 rounds of about 0.2 s each (2 rounds of 2 calls past 0.1 s a call)."""
    signatures = {name: tf.saved_model.load(path).signatures["serving_default"]
                  for name, path in paths.items()}
    inputs = tf.constant(observations[:batch])
    functions = {name: (lambda f: lambda x: f(observation=x))(signature)
                 for name, signature in signatures.items()}
    first = max(packed.best_seconds(functions, inputs, rounds=1, calls=1).values())
    seconds = packed.best_seconds(functions, inputs, rounds=5 if first < 0.1 else 2,
                                  calls=max(2, int(0.2 / first)))
    return {name: 1000 * value for name, value in seconds.items()}


def _export_grid(encoders, widths, tmp: str) -> dict:
    """Dense and pruned exports of each encoder and width: SavedModel and TFLite bytes (raw and
    gzipped), `serving_default` latency at batch 1 and 32 (dense and pruned SavedModels loaded
    side by side), and the batch at which the dense one catches up."""
    observations = random_observations("ALE/Pong-v5", True, max(EXPORT_BATCHES), seed=0)
    rows = []
    for encoder in encoders:
        for width in widths:
            dense_dir = os.path.join(tmp, f"export-{encoder}-{width}-dense")
            dense = _exported(encoder, width, 0.0, dense_dir, observations)
            for sparsity in EXPORT_SPARSITIES:
                pruned_dir = os.path.join(tmp, f"export-{encoder}-{width}-{sparsity}")
                pruned = _exported(encoder, width, sparsity, pruned_dir, observations)
                paths = {"dense": os.path.join(dense_dir, "serving"),
                         "pruned": os.path.join(pruned_dir, "serving")}
                latency, catch_up = {}, None
                for batch in EXPORT_BATCHES:  # up to the first batch where dense is as fast
                    latency[batch] = _serving_ms(paths, observations, batch)
                    if latency[batch]["dense"] <= latency[batch]["pruned"]:
                        catch_up = batch
                        break
                if 32 not in latency:
                    latency[32] = _serving_ms(paths, observations, 32)
                row = {
                    "encoder": encoder, "width": width, "sparsity": sparsity,
                    "format": pruned["packing"]["served"],
                    "parameters": dense["parameters"],
                    **{f"{variant}_{form}_{key}": report[form][key]
                       for variant, report in (("dense", dense), ("pruned", pruned))
                       for form in ("serving", "saved_model", "tflite")
                       for key in ("bytes", "gzip_bytes")},
                    "latency_ms": {str(batch): value for batch, value in sorted(latency.items())},
                    "dense_catches_up_at_batch": catch_up,
                }
                row["raw_dense_over_pruned"] = (row["dense_serving_bytes"]
                                                / row["pruned_serving_bytes"])
                row["gzip_dense_over_pruned"] = (row["dense_serving_gzip_bytes"]
                                                 / row["pruned_serving_gzip_bytes"])
                row["batch1_speedup"] = latency[1]["dense"] / latency[1]["pruned"]
                row["batch32_speedup"] = latency[32]["dense"] / latency[32]["pruned"]
                rows.append(row)
                print(f"export   {encoder} width {width} sparsity {sparsity}: "
                      f"{row['format']}, SavedModel {row['raw_dense_over_pruned']:.1f}x smaller "
                      f"({row['gzip_dense_over_pruned']:.1f}x gzipped), batch 1 "
                      f"{latency[1]['dense']:.2f} -> {latency[1]['pruned']:.2f} ms "
                      f"({row['batch1_speedup']:.2f}x), batch 32 {row['batch32_speedup']:.2f}x, "
                      f"dense catches up at batch {catch_up}", flush=True)
                shutil.rmtree(pruned_dir)
            shutil.rmtree(dense_dir)
    return {"rows": rows}


TRAINED = ["--flagfile=experiments/atari/dqn.flags", "--env=ALE/Pong-v5", "--encoder=nature",
           "--width=3", "--num_envs=8", "--num_env_steps=3200", "--learning_starts=800",
           "--pruning_frequency=10", "--log_interval=1600", "--eval_interval=3200",
           "--checkpoint_interval=3200", "--eval_episodes=1", "--replay_capacity=20000",
           "--epsilon_decay_steps=10000"]


def _trained_export(tmp: str) -> dict:
    """Exports of trained runs: Pong, Nature width 3, trained by tfprune-train dense and 95%
    GMP (ERK; 600 updates, masks every 10 so that the schedule ends), the pruned one exported
    by tfprune-export at --serving_batch_size 1 and 32. Bytes of both SavedModels (raw,
    gzipped), each pruned report's own times of both served formats, and `serving/` latency
    of the three, loaded as a user would and called alternately, at batch 1 and 32."""
    runs = {name: os.path.join(tmp, f"trained-{name}") for name in ("dense", "pruned")}
    for name, run_dir in runs.items():
        _run(_ours([*TRAINED, f"--sparsity={0.95 if name == 'pruned' else 0}"]), run_dir)
    exports = {"dense": os.path.join(runs["dense"], "export"),
               "pruned, batch 1": os.path.join(runs["pruned"], "export")}
    exports["pruned, batch 32"] = os.path.join(runs["pruned"], "export32")
    subprocess.run([sys.executable, "-m", "tfprune_rl.export_cli", f"--run_dir={runs['pruned']}",
                    "--format=saved_model", "--serving_batch_size=32",
                    f"--output_dir={exports['pruned, batch 32']}"], cwd=REPO_ROOT, check=True,
                   capture_output=True)
    figures = {}
    for name, export_dir in exports.items():
        with open(os.path.join(export_dir, "report.json")) as f:
            report = json.load(f)
        figures[name] = {form: {key: report[form][key] for key in ("bytes", "gzip_bytes")}
                         for form in ("serving", "saved_model")}
        figures[name]["served"] = report["packing"].get("served")
        figures[name]["report_batch_ms"] = report["packing"].get("batch_ms")
    observations = random_observations("ALE/Pong-v5", True, 32, seed=0)
    paths = {name: os.path.join(export_dir, "serving") for name, export_dir in exports.items()}
    latency = {str(batch): _serving_ms(paths, observations, batch) for batch in (1, 32)}
    dense = figures["dense"]["serving"]
    for name, row in figures.items():
        row["latency_ms"] = {batch: times[name] for batch, times in latency.items()}
        row["raw_x_smaller"] = dense["bytes"] / row["serving"]["bytes"]
        row["gzip_x_smaller"] = dense["gzip_bytes"] / row["serving"]["gzip_bytes"]
        print(f"trained  {name}: serving {row['serving']['bytes'] / 1e6:.2f} MB "
              f"({row['raw_x_smaller']:.2f}x smaller, {row['gzip_x_smaller']:.1f}x gzipped), "
              f"saved_model {row['saved_model']['bytes'] / 1e6:.2f} MB, served {row['served']}, "
              f"batch 1 {row['latency_ms']['1']:.2f} ms, batch 32 {row['latency_ms']['32']:.2f} "
              f"ms", flush=True)
    return figures


def _export_table(rows: list[dict]) -> str:
    lines = ["| encoder | width | sparsity | served | SavedModel MB dense / pruned | x smaller | "
             "x smaller gzipped | TFLite MB pruned | batch 1 ms dense / pruned | batch 1 x | "
             "batch 32 x | dense catches up at batch |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['encoder']} | {r['width']} | {r['sparsity']} | {r['format']} | "
            f"{r['dense_serving_bytes'] / 1e6:.1f} / {r['pruned_serving_bytes'] / 1e6:.2f} | "
            f"{r['raw_dense_over_pruned']:.1f} | {r['gzip_dense_over_pruned']:.1f} | "
            f"{r['pruned_tflite_bytes'] / 1e6:.2f} | {r['latency_ms']['1']['dense']:.2f} / "
            f"{r['latency_ms']['1']['pruned']:.2f} | {r['batch1_speedup']:.2f} | "
            f"{r['batch32_speedup']:.2f} | {r['dense_catches_up_at_batch'] or '> 32'} |")
    return "\n".join(lines)


def _export_figure(rows: list[dict], path: str) -> None:
    """Batch-1 latency and SavedModel size against sparsity, per encoder; dense as dashed lines."""
    encoders = sorted({r["encoder"] for r in rows})
    figure, axes = plt.subplots(2, len(encoders), figsize=(5 * len(encoders), 7), squeeze=False)
    for column, encoder in enumerate(encoders):
        for width in sorted({r["width"] for r in rows if r["encoder"] == encoder}):
            mine = [r for r in rows if r["encoder"] == encoder and r["width"] == width]
            sparsities = [r["sparsity"] for r in mine]
            for row, (key, unit) in enumerate((("latency", "ms"), ("bytes", "MB"))):
                ax = axes[row][column]
                if key == "latency":
                    pruned = [r["latency_ms"]["1"]["pruned"] for r in mine]
                    dense = [r["latency_ms"]["1"]["dense"] for r in mine]
                else:
                    pruned = [r["pruned_serving_bytes"] / 1e6 for r in mine]
                    dense = [r["dense_serving_bytes"] / 1e6 for r in mine]
                line, = ax.plot(sparsities, pruned, "o-", label=f"width {width} packed")
                ax.axhline(np.median(dense), color=line.get_color(), linestyle="--",
                           label=f"width {width} dense")
                ax.set_yscale("log")
                ax.set_xlabel("sparsity")
                ax.set_ylabel(f"batch-1 latency ({unit})" if key == "latency"
                              else f"SavedModel size ({unit})")
                ax.set_title(f"{encoder}")
        axes[0][column].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _table(report: dict) -> str:
    """The throughput settings as the README's Markdown table."""
    lines = ["| setting | pipeline | envs | dense env steps/s | pruned env steps/s | "
             "pruned / dense time | dense x stock | learner share (pruned) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, result in report["settings"].items():
        best = result["variants"]
        stock = best.get("stock")
        if stock:
            lines.append(f"| {name} | stock TF-Agents | 1 | {stock['env_steps_per_second']:,.0f}"
                         " | | | 1.00 | |")
        for variant, row in best.items():
            if not variant.endswith("dense"):
                continue
            pruned = best[variant.replace("dense", "pruned")]
            envs = variant.split()[1]
            versus = (f"{row['env_steps_per_second'] / stock['env_steps_per_second']:.2f}"
                      if stock else "")
            lines.append(
                f"| {name} | ours | {envs} | {row['env_steps_per_second']:,.0f} | "
                f"{pruned['env_steps_per_second']:,.0f} | "
                f"{row['env_steps_per_second'] / pruned['env_steps_per_second']:.3f} | "
                f"{versus} | {pruned['phase_share'].get('learner', 0.0):.0%} |")
    return "\n".join(lines)


def main() -> None:
    choices = [*THROUGHPUT, "cost", "masks", "pictures", "export", "trained_export"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmark.json")
    parser.add_argument("--only", default=",".join(choices),
                        help=f"comma-separated subset of {', '.join(choices)}")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of every variant")
    parser.add_argument("--cost_settings", default=",".join(map(str, range(len(INTERLEAVED)))),
                        help="which `cost` settings, by their number in INTERLEAVED (0-6; all "
                             "take about 40 minutes on 2 cores)")
    parser.add_argument("--export_encoders", default="nature,impala",
                        help="encoders of the export setting")
    parser.add_argument("--export_widths", default="1,3,5", help="widths of the export setting")
    parser.add_argument("--figure", default="benchmark_export.png",
                        help="where the export setting's figure goes")
    args = parser.parse_args()
    names = args.only.split(",")
    unknown = sorted(set(names) - set(choices))
    if unknown:
        sys.exit(f"benchmark: error: unknown setting(s) {unknown}; choose from "
                 f"{', '.join(choices)}")
    if args.repeats < 1:
        sys.exit(f"benchmark: error: --repeats={args.repeats} must be >= 1")
    try:
        cost_settings = [list(INTERLEAVED)[int(i)] for i in args.cost_settings.split(",")]
    except (ValueError, IndexError):
        sys.exit(f"benchmark: error: --cost_settings={args.cost_settings} must be numbers in "
                 f"0-{len(INTERLEAVED) - 1}")

    report = {"settings": {}, "replay_bytes_per_transition_1M_atari": _replay_bytes()}
    with tempfile.TemporaryDirectory() as tmp:
        # Fresh-process pipelines first: the in-process settings leave envs (ale-py's threads)
        # that would share the cores with them.
        for name in (name for name in names if name in THROUGHPUT):
            report["settings"][name] = _throughput(name, args.repeats, tmp)
        if "masks" in names:
            report["mask_update"] = _mask_update_ms()
        if "cost" in names:
            report["pruning_cost"] = _pruning_cost(20 * args.repeats, tmp, cost_settings)
        if "pictures" in names:
            report["picture_cost"] = _picture_cost(3 * args.repeats, tmp)
        if "export" in names:
            report["export"] = _export_grid(args.export_encoders.split(","),
                                            [int(w) for w in args.export_widths.split(",")], tmp)
            print(_export_table(report["export"]["rows"]))
            _export_figure(report["export"]["rows"], args.figure)
            print(f"wrote {args.figure}")
        if "trained_export" in names:
            report["trained_export"] = _trained_export(tmp)
    for scheme, size in report["replay_bytes_per_transition_1M_atari"].items():
        print(f"replay, 1M Atari transitions, {scheme}: {size:,.0f} bytes/transition "
              f"({size * 1e6 / 1e9:.2f} GB)")
    if report["settings"]:
        print(_table(report))
    with atomic_open(args.output) as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
