"""MuJoCo frames drawn in a process without TensorFlow.

With no display MuJoCo renders through OSMesa, and OSMesa's renderer crashes a process that has
loaded TensorFlow (measured here: a segmentation fault at the first frame, or as soon as
TensorFlow is imported after one). So an evaluation records the simulator's states (`States`:
`render()` returns qpos and qvel), and this module, run as its own process, sets each state and
draws it:

    python -m tfprune_rl.envs.mujoco_frames ENV_ID STATES.npy FRAMES.npy
"""

import os
import subprocess
import sys
import tempfile

import gymnasium as gym
import numpy as np

SIDE = 240  # pixels of a frame's side


class States(gym.Wrapper):
    """A MuJoCo env whose `render()` returns its state, which `frames` draws elsewhere."""

    def __init__(self, env: gym.Env, env_id: str):
        super().__init__(env)
        self.env_id = env_id

    def render(self) -> np.ndarray:
        data = self.env.unwrapped.data
        return np.concatenate([data.qpos, data.qvel])

    def frames(self, states: list) -> list[np.ndarray]:
        """The rgb frames of `states`, drawn by a process of their own."""
        with tempfile.TemporaryDirectory() as tmp:
            states_path, frames_path = (os.path.join(tmp, name)
                                        for name in ("states.npy", "frames.npy"))
            np.save(states_path, np.stack(states))
            result = subprocess.run([sys.executable, "-m", __name__, self.env_id, states_path,
                                     frames_path], capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(f"MuJoCo rendering failed (exit {result.returncode}): "
                                   f"{result.stderr.strip().splitlines()[-1:]}")
            return list(np.load(frames_path))


def draw(env_id: str, states: np.ndarray) -> np.ndarray:
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "osmesa")
    env = gym.make(env_id, render_mode="rgb_array", width=SIDE, height=SIDE)
    env.reset(seed=0)
    model = env.unwrapped.model
    frames = []
    for state in states:
        env.unwrapped.set_state(state[:model.nq], state[model.nq:])
        frames.append(env.render())
    env.close()
    return np.stack(frames)


if __name__ == "__main__":
    env_id, states_path, frames_path = sys.argv[1:]
    np.save(frames_path, draw(env_id, np.load(states_path)))
