"""What a person looks at: mask images, kept-weight histograms, HParams and evaluation videos in
TensorBoard (read back through a real TensorBoard server), MP4s, and tfprune-play."""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

import cli
from tfprune_rl import summaries, video
from tfprune_rl.envs import make_gym_env
from tfprune_rl.export import saved_kernels
from tfprune_rl.value_based.config import TrainConfig
from tfprune_rl.envs.evaluation import evaluate
from tfprune_rl.lifecycle.runner import hparams

EPISODES = 3
RUN = ["--flagfile=experiments/minatar/dqn.flags", "--env=MinAtar/Breakout-v1", "--width=1",
       "--num_envs=16", "--num_env_steps=16000", "--learning_starts=1000",
       "--eval_interval=8000", f"--eval_episodes={EPISODES}", "--eval_epsilon=0",
       "--log_interval=2000", "--summary_image_interval=4000", "--checkpoint_interval=8000",
       "--diagnostics_period=500", "--capture_video"]


def test_tag_groups_sort_return_sparsity_and_loss_first_then_the_diagnostics():
    groups = sorted(summaries.tag(group, "x").split("/")[0] for group in summaries.GROUPS)
    assert [group.split("_", 1)[1] for group in groups[:4]] == [
        "return", "sparsity", "loss", "diagnostics"]


def test_a_small_kernel_s_mask_image_is_its_mask_in_square_blocks():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 4, 16)) * (rng.random((3, 3, 4, 16)) > 0.7)
    image = summaries.mask_image(kernel)[..., 0]
    assert image.shape == (36 * 4, 16 * 4)  # 16 outputs drawn 64 pixels wide
    np.testing.assert_array_equal(image[::4, ::4] == 255, kernel.reshape(36, 16) != 0)
    assert np.mean(image == 0) == np.mean(kernel == 0)


def test_a_nature_width_3_layer_s_mask_image_is_readable_and_keeps_its_density():
    """14.4M weights (3136 x 3 inputs, 512 x 3 outputs), 95% sparse, with 100 dense outputs."""
    rng = np.random.default_rng(1)
    kept = rng.random((9408, 1536), np.float32) > 0.95
    kept[:, 500:600] = True
    image = summaries.mask_image(kept.astype(np.float32))[..., 0]
    assert image.shape == (256, 256)
    assert np.mean(image == 0) == pytest.approx(np.mean(~kept), abs=0.01)
    dense_columns = np.flatnonzero(np.all(image == 255, axis=0))
    assert 15 <= len(dense_columns) <= 18  # the 100 dense outputs of 1536, at 256 columns
    assert dense_columns.min() >= 500 * 256 // 1536 and dense_columns.max() <= 600 * 256 // 1536


def test_hparams_are_every_config_field_but_the_run_directory():
    values = hparams(TrainConfig(root_dir="runs/x"))
    assert "root_dir" not in values
    assert values["width"] == 4 and values["sparsity"] == 0.95 and values["env"] == "CartPole-v1"
    assert values["pruning_start"] == 0.2 and values["learning_rate"] == 1e-3
    assert values["hidden_units"] == "(64, 64)"
    assert all(isinstance(value, (bool, int, float, str)) for value in values.values())


def test_recording_changes_no_return():
    def act(observation):  # deterministic, and not constant
        return np.array([int(observation.sum()) % 3])

    plain = evaluate(make_gym_env("MinAtar/Breakout-v1"), act, 3, 7)
    frames = []
    recorded = evaluate(make_gym_env("MinAtar/Breakout-v1", render_mode="rgb_array"), act, 3, 7,
                        frames)
    assert recorded == plain
    assert len(frames) > 10 and frames[0].shape == (10, 10, 3)


def test_frames_round_trip_through_mp4_and_gif(tmp_path):
    rng = np.random.default_rng(2)
    tiny = [rng.random((10, 10, 3)) for _ in range(12)]  # MinAtar's float frames
    frames = [video.rgb_frame(frame) for frame in tiny]
    assert frames[0].shape == (160, 160, 3) and frames[0].dtype == np.uint8
    np.testing.assert_array_equal(frames[0][::16, ::16], np.round(tiny[0] * 255))
    assert video.rgb_frame(np.zeros((5, 7, 3), np.uint8)).shape == (160, 224, 3)
    path = str(tmp_path / "episode.mp4")
    video.write_mp4(path, frames)
    decoded = imageio.mimread(path)
    assert len(decoded) == 12 and decoded[0].shape == (160, 160, 3)
    assert np.mean(np.abs(decoded[5].astype(float) - frames[5])) < 12  # lossy H.264
    assert os.listdir(tmp_path) == ["episode.mp4"]
    assert Image.open(io.BytesIO(video.gif_bytes(frames))).n_frames == 12
    black, white = np.zeros((500, 300, 3), np.uint8), np.full((500, 300, 3), 255, np.uint8)
    long = Image.open(io.BytesIO(video.gif_bytes([black, white] * 305)))
    assert long.n_frames == 204 and long.size == (100, 167)  # every 3rd frame and pixel


@pytest.fixture(scope="module")
def pictured_run(tmp_path_factory):
    """A short 95% MinAtar run with videos, evaluated greedily, and its export packed and dense."""
    root = tmp_path_factory.mktemp("pictures")
    run_dir = str(root / "run")
    cli.finish(cli.start(f"--root_dir={run_dir}", *RUN))
    exports = {}
    for packing in ("packed", "dense"):
        exports[packing] = str(root / packing)
        cli.finish(cli.start(f"--run_dir={run_dir}", f"--packing={packing}",
                             "--format=saved_model", f"--output_dir={exports[packing]}",
                             module="tfprune_rl.export_cli"))
    return run_dir, exports


def test_videos_are_mp4s_of_the_first_evaluation_episode(pictured_run):
    run_dir, _ = pictured_run
    names = sorted(os.listdir(os.path.join(run_dir, "videos")))
    assert names == ["env_step_000008000.mp4", "env_step_000016000.mp4"]
    frames = imageio.mimread(os.path.join(run_dir, "videos", names[-1]), memtest=False)
    assert frames[0].shape == (160, 160, 3) and len(frames) > 5


@pytest.mark.parametrize("packing", ["packed", "dense"])
def test_play_replays_the_final_evaluation_episode_by_episode(pictured_run, tmp_path, packing):
    run_dir, exports = pictured_run
    with open(os.path.join(run_dir, "evaluations.jsonl")) as f:
        final = json.loads(f.readlines()[-1])["returns"]
    out = str(tmp_path / "play.mp4")
    result = cli.run(exports[packing], f"--episodes={EPISODES}", f"--video={out}",
                     module="tfprune_rl.play_cli")
    assert result.returncode == 0, result.stderr
    played = [float(line.split()[-1]) for line in result.stdout.splitlines()
              if line.startswith("episode ")]
    assert played == final
    assert len(imageio.mimread(out, memtest=False)) > 5


def test_play_refuses_what_it_cannot_play(tmp_path):
    result = cli.run(str(tmp_path / "missing"), module="tfprune_rl.play_cli")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"tfprune-play: error: {tmp_path / 'missing'} is not a directory; expected a run's "
        "export directory or a SavedModel"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def board(pictured_run):
    """A real TensorBoard on the run directory: a function that GETs (or POSTs) its data API."""
    run_dir, _ = pictured_run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={run_dir}", f"--port={port}",
         "--host=127.0.0.1", "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def fetch(path: str, body: dict | None = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                         headers={"X-XSRF-Protected": "1",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    deadline = time.time() + 120
    while True:  # until the server answers with the run's images loaded
        try:
            if json.loads(fetch("/data/plugin/images/tags")).get("tensorboard"):
                break
        except OSError:
            pass
        assert server.poll() is None, server.stderr.read()
        assert time.time() < deadline, "TensorBoard did not load the run in 120 s"
        time.sleep(1)
    yield fetch
    server.terminate()
    server.wait()


def test_tensorboard_serves_scalars_masks_histograms_video_and_hparams(pictured_run, board):
    run_dir, _ = pictured_run
    metrics = cli.metrics(run_dir)
    plugins = json.loads(board("/data/plugins_listing"))
    assert all(plugins[name]["enabled"] for name in ("scalars", "images", "histograms",
                                                       "hparams"))
    scalars = json.loads(board("/data/plugin/scalars/tags"))["tensorboard"]
    assert {"1_return/eval", "1_return/train", "2_sparsity/total", "3_loss/train",
            "4_diagnostics/srank"} <= set(scalars)
    assert min(scalars) == "1_return/eval"  # the first card TensorBoard shows

    images = json.loads(board("/data/plugin/images/tags"))["tensorboard"]
    assert set(images) == {"2_sparsity/mask/conv_0", "2_sparsity/mask/dense_0",
                           "1_return/eval_video"}
    for layer in ("conv_0", "dense_0"):
        entries = json.loads(board("/data/plugin/images/images?" + urllib.parse.urlencode(
            {"run": "tensorboard", "tag": f"2_sparsity/mask/{layer}", "sample": 0})))
        last = Image.open(io.BytesIO(board(
            f"/data/plugin/images/individualImage?{entries[-1]['query']}")))
        assert last.format == "PNG"
        zeros = np.mean(np.asarray(last) == 0)
        assert zeros == pytest.approx(metrics["layer_sparsity"][layer], abs=0.01), layer
    entries = json.loads(board("/data/plugin/images/images?" + urllib.parse.urlencode(
        {"run": "tensorboard", "tag": "1_return/eval_video", "sample": 0})))
    assert [entry["step"] for entry in entries] == [8000, 16000]
    gif = Image.open(io.BytesIO(board(
        f"/data/plugin/images/individualImage?{entries[-1]['query']}")))
    assert gif.format == "GIF" and gif.n_frames > 5

    histograms = json.loads(board("/data/plugin/histograms/histograms?" + urllib.parse.urlencode(
        {"run": "tensorboard", "tag": "5_weights/dense_0"})))
    kernel = saved_kernels(os.path.join(run_dir, "export", "saved_model"))
    dense = next(k for name, k in kernel.items() if "dense_0" in name)
    step, buckets = histograms[-1][1], histograms[-1][2]
    assert step == 16000
    assert sum(count for _, _, count in buckets) == pytest.approx(np.count_nonzero(dense))

    experiment = json.loads(board("/data/plugin/hparams/experiment", {"experimentName": ""}))
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"env", "agent", "encoder", "width", "sparsity", "pruning", "seed"} <= names
    assert {info["name"]["tag"] for info in experiment["metricInfos"]} == {
        "1_return/eval", "2_sparsity/total"}
    groups = json.loads(board("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"],
        "colParams": [], "startIndex": 0, "sliceSize": 10}))["sessionGroups"]
    assert len(groups) == 1
    assert groups[0]["hparams"]["width"] == 1 and groups[0]["hparams"]["sparsity"] == 0.95
    values = {value["name"]["tag"]: value["value"] for value in groups[0]["metricValues"]}
    assert values["1_return/eval"] == pytest.approx(metrics["eval_return_mean"])
    assert values["2_sparsity/total"] == pytest.approx(0.95, abs=1e-3)


@pytest.mark.slow  # needs OSMesa (libosmesa6, which .ci/run installs) with no display
def test_mujoco_frames_are_drawn_by_another_process_beside_tensorflow():
    """OSMesa crashes a process that has loaded TensorFlow (as this one has): the evaluation
    records states and a process of its own draws them."""
    import tensorflow as tf  # noqa: F401  (loaded, as in every trainer)
    from tfprune_rl.envs import make_continuous_env

    def act(observation):
        return np.tanh(observation[:, :6])

    plain = evaluate(make_continuous_env("HalfCheetah-v5"), act, 1, 3)
    frames = []
    recorded = evaluate(make_continuous_env("HalfCheetah-v5", "rgb_array"), act, 1, 3, frames)
    assert recorded == plain
    assert len(frames) == 1001 and frames[0].shape == (240, 240, 3)
    assert frames[0].dtype == np.uint8 and not np.array_equal(frames[0], frames[-1])
