"""Episodes as videos: MP4 files (imageio's ffmpeg plugin) and GIFs for TensorBoard."""

import io
import os
from typing import Sequence

import imageio.v2 as imageio
import numpy as np
from PIL import Image

from tfprune_rl.envs.mujoco_frames import States

for _driver in ("SDL_AUDIODRIVER", "SDL_VIDEODRIVER"):  # pygame renders with no sound or display
    os.environ.setdefault(_driver, "dummy")

FPS = 30
MIN_SIDE = 160  # tiny frames (MinAtar's 10 x 10) are scaled up by whole pixels to this
GIF_FRAMES = 300  # TensorBoard's preview of an episode: at most this many frames
GIF_SIDE = 240  # and sides of at most this many pixels


def rgb_frame(frame: np.ndarray) -> np.ndarray:
    """An env's rgb_array render as uint8 pixels, scaled up by a whole factor when tiny, with
    even sides (the H.264 encoder's 4:2:0 chroma needs them)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:  # MinAtar renders floats in [0, 1]
        frame = np.round(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    scale = -(-MIN_SIDE // min(frame.shape[:2]))
    if scale > 1:
        frame = frame.repeat(scale, axis=0).repeat(scale, axis=1)
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))


def check_renders(env, env_id: str) -> None:
    """Raises ValueError, naming `env_id`, if `env` (made with render_mode="rgb_array") cannot
    render a frame on this machine."""
    try:
        env.reset(seed=0)
        frame = env.render()
        if isinstance(env, States):
            frame = env.frames([frame])[0]
    except Exception as error:  # each renderer fails its own way: OpenGL, pygame, ...
        raise ValueError(
            f"--capture_video: env {env_id} cannot render frames here ({type(error).__name__}: "
            f"{error}); MuJoCo renders with OpenGL: with no display, through OSMesa "
            "(apt install libosmesa6), or the backend MUJOCO_GL names") from None
    if frame is None:
        raise ValueError(f"--capture_video: env {env_id} renders no rgb frames")


def write_mp4(path: str, frames: Sequence[np.ndarray], fps: int = FPS) -> None:
    """Writes `frames` to `path` whole or not at all (through a temporary file)."""
    partial = f"{path}.partial.mp4"
    imageio.mimwrite(partial, list(frames), fps=fps, codec="libx264", macro_block_size=1)
    os.replace(partial, path)


def gif_bytes(frames: Sequence[np.ndarray], fps: int = FPS) -> bytes:
    """A preview for TensorBoard, which keeps it in the event file: at most GIF_FRAMES frames,
    evenly spaced and shown for as long as the ones they stand for, with every k-th pixel so
    that no side exceeds GIF_SIDE."""
    step = -(-len(frames) // GIF_FRAMES)
    stride = -(-max(frames[0].shape[:2]) // GIF_SIDE)
    images = [Image.fromarray(frame[::stride, ::stride]) for frame in frames[::step]]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 * step / fps), loop=0)
    return buffer.getvalue()
