"""A circular replay buffer that stores each frame once and builds n-step transitions on sampling.

Every slot holds one step: the newest frame of its observation, the action taken, the reward,
whether the episode terminated or ended (terminated or truncated) after it, and the step's
index within its episode. An episode's last observation gets a slot of its own, which is
never sampled. Stacked observations (Atari keeps the last 4 frames) are rebuilt from
consecutive slots, with zeros before an episode's first frame, exactly as the env stacks them.

With several envs collecting in parallel, each env writes its own stream: a contiguous share
of the capacity with its own cursor, so episodes never interleave.

A sampled transition is (s_t, a_t, R, d, s_{t+m}) with R = sum_k gamma^k r_{t+k} over the
m <= n steps up to the episode's end, d = gamma^m, or 0 if the episode terminated. A slot is
sampled only when all of its frames are still in the buffer and belong to its episode.
Rewards are stored raw; `clip_rewards` clips each one to [-1, 1] as transitions are built.

Actions are discrete indices by default; `action_shape` and a float `action_dtype` store
continuous actions instead (online SAC and TD3).

Slots can also be read and appended in bulk, as rows (`ROW_FIELDS`): that is how fixed datasets
are recorded from a run's buffer and loaded back into one.

Prioritized sampling follows Dopamine's Rainbow: probability proportional to the priority
(new transitions get the largest priority seen), importance weights 1/sqrt(priority)
divided by their batch maximum.
"""

import json

import numpy as np

from tfprune_rl.files import atomic_open
from tfprune_rl.replay.sum_tree import SumTree

REPLAY_SCHEMES = ("uniform", "prioritized")
MAX_RESAMPLE_ROUNDS = 1_000
# One row per slot: the newest frame, the step's action and raw reward, how the episode ended
# after it, whether the slot is an episode's last observation, and its index in the episode.
ROW_FIELDS = ("observation", "action", "reward", "terminated", "truncated", "final",
              "episode_step")


class ReplayBuffer:
    def __init__(
        self,
        capacity: int,
        observation_shape,
        observation_dtype,
        seed: int,
        stack_size: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        num_streams: int = 1,
        scheme: str = "uniform",
        clip_rewards: bool = False,
        action_shape=(),
        action_dtype=np.int32,
    ):
        if scheme not in REPLAY_SCHEMES:
            raise ValueError(f"unknown replay scheme {scheme!r}; choose one of {', '.join(REPLAY_SCHEMES)}")
        if n_step < 1:
            raise ValueError(f"n_step={n_step} must be >= 1")
        if stack_size > 1 and observation_shape[-1] != stack_size:
            raise ValueError(
                f"observation shape {tuple(observation_shape)} does not end in a stack of {stack_size}"
            )
        if capacity < num_streams * (n_step + stack_size + 1):
            raise ValueError(
                f"replay capacity={capacity} is too small for {num_streams} env(s) with "
                f"n_step={n_step}; it needs at least {num_streams * (n_step + stack_size + 1)}"
            )
        self.capacity = capacity
        self.stream_capacity = capacity // num_streams
        self.num_streams = num_streams
        self.observation_shape = tuple(observation_shape)
        self.stack_size = stack_size
        self.n_step = n_step
        self.gamma = gamma
        self.scheme = scheme
        self.clip_rewards = clip_rewards
        self.frame_shape = self.observation_shape[:-1] if stack_size > 1 else self.observation_shape
        slots = self.stream_capacity * num_streams
        # Sampled actions: int64 indices for the agents' gathers, float32 vectors otherwise.
        self._sampled_action_dtype = (np.int64 if np.issubdtype(action_dtype, np.integer)
                                      else np.float32)
        self._data = {
            "frame": np.zeros((slots, *self.frame_shape), observation_dtype),
            "action": np.zeros((slots, *action_shape), action_dtype),
            "reward": np.zeros((slots,), np.float32),
            "terminated": np.zeros((slots,), bool),
            "episode_end": np.zeros((slots,), bool),
            "final": np.zeros((slots,), bool),
            "episode_step": np.zeros((slots,), np.int32),
        }
        self._added = np.zeros(num_streams, np.int64)
        self._episode_step = np.zeros(num_streams, np.int64)
        self._tree = SumTree(slots) if scheme == "prioritized" else None
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return int(np.minimum(self._added, self.stream_capacity).sum())

    @property
    def nbytes(self) -> int:
        tree_bytes = self._tree.nodes.nbytes if self._tree else 0
        return sum(array.nbytes for array in self._data.values()) + tree_bytes

    def max_abs_reward(self) -> float:
        """The largest |reward| stored, as the agent learns it (clipped to 1 with clipping);
        empty slots hold 0."""
        largest = float(np.max(np.abs(self._data["reward"])))
        return min(largest, 1.0) if self.clip_rewards else largest

    def add(self, observations, actions, rewards, terminated, truncated,
            next_observations) -> None:
        """One env step of every stream, one row each, with raw rewards; a stream whose episode
        ended gives its final observation in `next_observations`."""
        streams = np.arange(self.num_streams)
        terminated = np.asarray(terminated, bool)
        ended = terminated | np.asarray(truncated, bool)
        self._write(streams, observations, actions, rewards, terminated, ended, final=False)
        if ended.any():
            finished = streams[ended]
            self._write(finished, np.asarray(next_observations)[ended], 0, 0.0, False, False,
                        final=True)
            self._episode_step[finished] = 0

    def start_episode(self, stream: int) -> None:
        """Marks that `stream`'s env was reset outside `add` (as on resume): the cut episode's
        last steps, which have no next frame, are never sampled."""
        self._episode_step[stream] = 0

    def _write(self, streams, observations, actions, rewards, terminated, episode_end, final):
        slots = streams * self.stream_capacity + self._added[streams] % self.stream_capacity
        frames = np.asarray(observations)
        self._data["frame"][slots] = frames[..., -1] if self.stack_size > 1 else frames
        self._data["action"][slots] = actions
        self._data["reward"][slots] = rewards
        self._data["terminated"][slots] = terminated
        self._data["episode_end"][slots] = episode_end
        self._data["final"][slots] = final
        self._data["episode_step"][slots] = self._episode_step[streams]
        if self._tree:
            self._tree.set(slots, 0.0 if final else self._tree.max_priority)
        self._added[streams] += 1
        self._episode_step[streams] += 1

    def sample(self, batch_size: int, rng: np.random.Generator | None = None
               ) -> dict[str, np.ndarray]:
        """A batch of n-step transitions, with `indices` (for `update_priorities`) and `weights`.

        Slots whose transition is incomplete are drawn again; frames are stacked once, at the end.
        `rng` draws instead of the buffer's own generator, which then keeps its state: a batch
        for measuring does not change the batches training sees.
        """
        rng = self._rng if rng is None else rng
        slots = self._draw(batch_size, rng)
        walk = self._n_step_walk(slots)
        for _ in range(MAX_RESAMPLE_ROUNDS):
            invalid = np.flatnonzero(~walk["valid"])
            if not invalid.size:
                break
            slots[invalid] = self._draw(invalid.size, rng)
            for name, values in self._n_step_walk(slots[invalid]).items():  # the new ones only
                walk[name][invalid] = values
        else:
            raise ValueError(
                f"replay holds no complete {self.n_step}-step transition yet ({len(self)} steps)"
            )
        stream, start, step0, steps = walk["stream"], walk["start"], walk["step0"], walk["steps"]
        batch = {
            "observation": self._stacked(stream, start, step0),
            "action": self._data["action"][slots].astype(self._sampled_action_dtype),
            "reward": walk["reward"].astype(np.float32),
            "discount": walk["discount"].astype(np.float32),
            "next_observation": self._stacked(stream, start + steps, step0 + steps),
        }
        if self._tree:
            weights = 1.0 / np.sqrt(self._tree.get(slots) + 1e-10)
            batch["weights"] = (weights / weights.max()).astype(np.float32)
        else:
            batch["weights"] = np.ones(batch_size, np.float32)
        batch["indices"] = slots
        return batch

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        if not self._tree:
            raise ValueError("update_priorities needs the prioritized replay scheme")
        self._tree.set(indices, priorities)

    def added(self, stream: int) -> int:
        """Slots `stream` has written since the buffer was created (or loaded)."""
        return int(self._added[stream])

    def rows(self, stream: int, start: int, stop: int) -> dict[str, np.ndarray]:
        """`stream`'s slots [start, stop), counted as `added` counts them, as `ROW_FIELDS`."""
        oldest = max(0, self.added(stream) - self.stream_capacity)
        if not oldest <= start <= stop <= self.added(stream):
            raise ValueError(f"slots [{start}, {stop}) of stream {stream} are not in the buffer")
        slots = self._slot(stream, np.arange(start, stop))
        data = self._data
        return {
            "observation": data["frame"][slots],
            "action": data["action"][slots],
            "reward": data["reward"][slots],
            "terminated": data["terminated"][slots],
            "truncated": data["episode_end"][slots] & ~data["terminated"][slots],
            "final": data["final"][slots],
            "episode_step": data["episode_step"][slots],
        }

    def extend(self, stream: int, rows: dict[str, np.ndarray]) -> None:
        """Appends `ROW_FIELDS` rows to `stream`, which must have room for all of them."""
        if self._tree:
            raise ValueError("rows can be appended to a uniform replay buffer only")
        count = len(rows["action"])
        start = self.added(stream)
        if start + count > self.stream_capacity:
            raise ValueError(f"{count:,} rows do not fit stream {stream} "
                             f"({self.stream_capacity - start:,} slots left)")
        slots = slice(stream * self.stream_capacity + start,
                      stream * self.stream_capacity + start + count)
        data = self._data
        data["frame"][slots] = rows["observation"]
        data["action"][slots] = rows["action"]
        data["reward"][slots] = rows["reward"]
        data["terminated"][slots] = rows["terminated"]
        data["episode_end"][slots] = rows["terminated"] | rows["truncated"]
        data["final"][slots] = rows["final"]
        data["episode_step"][slots] = rows["episode_step"]
        self._added[stream] += count

    def _draw(self, count: int, rng: np.random.Generator) -> np.ndarray:
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self._tree:
            return self._tree.stratified_sample(count, rng)
        filled = np.minimum(self._added, self.stream_capacity)
        ends = np.cumsum(filled)
        position = rng.integers(0, ends[-1], size=count)
        stream = np.searchsorted(ends, position, side="right")
        return stream * self.stream_capacity + position - (ends - filled)[stream]

    def _slot(self, stream, logical):
        return stream * self.stream_capacity + logical % self.stream_capacity

    def _n_step_walk(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """Walks up to n steps forward from each slot in its episode: the return, the discount,
        the steps taken, and whether every frame the transition needs is still there."""
        data, capacity = self._data, self.stream_capacity
        stream, offset = slots // capacity, slots % capacity
        added = self._added[stream]
        oldest = np.maximum(0, added - capacity)
        start = added - 1 - (added - 1 - offset) % capacity  # newest logical index in that slot
        step0 = data["episode_step"][slots]
        valid = ~data["final"][slots]
        reward = np.zeros(len(slots), np.float64)
        discount = np.ones(len(slots), np.float64)
        active = valid.copy()
        steps = np.zeros(len(slots), np.int64)
        terminated = np.zeros(len(slots), bool)
        for k in range(self.n_step):
            logical = start + k
            ready = logical < added
            current = self._slot(stream, np.where(ready, logical, start))
            same_episode = ready & (data["episode_step"][current] == step0 + k)
            valid &= ~active | same_episode
            active &= same_episode
            step_reward = data["reward"][current]
            if self.clip_rewards:
                step_reward = np.clip(step_reward, -1, 1)
            reward += np.where(active, discount * step_reward, 0.0)
            discount = np.where(active, discount * self.gamma, discount)
            steps += active
            terminated |= active & data["terminated"][current]
            discount = np.where(terminated, 0.0, discount)
            active &= ~data["episode_end"][current]
        next_logical = start + steps
        next_slot = self._slot(stream, np.minimum(next_logical, added - 1))
        # A terminated transition never looks at its next observation, which may be missing.
        valid &= terminated | ((next_logical < added)
                               & (data["episode_step"][next_slot] == step0 + steps))
        valid &= start - np.minimum(step0, self.stack_size - 1) >= oldest
        return {"valid": valid, "stream": stream, "start": start, "step0": step0, "steps": steps,
                "reward": reward, "discount": discount}

    def _stacked(self, stream, logical, episode_step) -> np.ndarray:
        """Observations at `logical`, rebuilt from frames; zeros before the episode began."""
        if self.stack_size == 1:
            return self._data["frame"][self._slot(stream, logical)]
        frames = []
        for k in range(self.stack_size - 1, -1, -1):
            frame = self._data["frame"][self._slot(stream, logical - k)]
            inside = (k <= episode_step).reshape(-1, *([1] * (frame.ndim - 1)))
            frames.append(np.where(inside, frame, 0).astype(frame.dtype))
        return np.stack(frames, axis=-1)

    def save(self, path: str) -> None:
        extra = {"tree": self._tree.nodes, "max_priority": self._tree.max_priority} if self._tree else {}
        with atomic_open(path, "wb") as f:
            np.savez(
                f, added=self._added, episode_step_now=self._episode_step,
                rng=json.dumps(self._rng.bit_generator.state), **self._data, **extra,
            )

    def load(self, path: str) -> None:
        """Reads the whole file before changing anything, so a damaged one (which raises
        `ValueError`, `OSError` or `zipfile.BadZipFile`) leaves the buffer as it was."""
        with np.load(path, allow_pickle=False) as file:
            saved = {name: file[name] for name in file.files}
        expected = {**self._data, "added": self._added, "episode_step_now": self._episode_step}
        if self._tree:
            expected["tree"] = self._tree.nodes
        missing = [name for name in [*expected, "rng", *(["max_priority"] if self._tree else [])]
                   if name not in saved]
        if missing:
            raise ValueError(f"replay file {path} lacks {', '.join(missing)}")
        for field, array in expected.items():
            if saved[field].shape != array.shape:
                raise ValueError(f"replay file {path} holds {field} of shape "
                                 f"{saved[field].shape}, expected {array.shape}")
        rng_state = json.loads(str(saved["rng"]))
        for field, array in expected.items():
            array[...] = saved[field]
        if self._tree:
            self._tree.max_priority = float(saved["max_priority"])
        self._rng.bit_generator.state = rng_state
