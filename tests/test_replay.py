"""The replay buffer against a brute-force reference built from the same episodes."""

import numpy as np
import pytest

from tfprune_rl.replay import ReplayBuffer, SumTree

GAMMA = 0.5


def _episodes(rng, lengths, frame_shape, stack):
    """Transitions as a FrameStack env would emit them: stacks of the last `stack` frames,
    zeros before the first. Each transition's action is its unique id; frames encode it too."""
    transitions, next_id = [], 0
    for episode, length in enumerate(lengths):
        frames = np.zeros((*frame_shape, stack), np.uint8)

        def push(value):
            frames[..., :-1] = frames[..., 1:]
            frames[..., -1] = value
            return frames.copy() if stack > 1 else frames[..., -1].copy()

        observation = push(1 + (episode * 7) % 250)
        terminated_episode = episode % 2 == 0
        for t in range(length):
            last = t == length - 1
            next_observation = push(1 + (episode * 7 + t + 1) % 250)
            transitions.append(dict(
                id=next_id, episode=episode, t=t, observation=observation, reward=float(rng.normal()),
                terminated=last and terminated_episode, truncated=last and not terminated_episode,
                next_observation=next_observation,
            ))
            observation, next_id = next_observation, next_id + 1
    return transitions


def _expected(transitions, n):
    """n-step targets by brute force: walk forward in the same episode."""
    expected = {}
    for i, first in enumerate(transitions):
        reward, discount, j = 0.0, 1.0, i
        for k in range(n):
            step = transitions[i + k]
            reward += discount * step["reward"]
            discount *= GAMMA
            j = i + k
            if step["terminated"]:
                discount = 0.0
            if step["terminated"] or step["truncated"]:
                break
        expected[first["id"]] = dict(
            observation=first["observation"], reward=reward, discount=discount,
            next_observation=transitions[j]["next_observation"],
        )
    return expected


def _add(replay, *steps):
    """One env step of every stream: `steps[i]` is stream i's."""
    fields = ("observation", "id", "reward", "terminated", "truncated", "next_observation")
    replay.add(*(np.stack([step[field] for step in steps]) for field in fields))


def _fill(replay, transitions):
    for step in transitions:
        _add(replay, step)


def _step(t, reward, terminated=False, truncated=False, next_t=None):
    """A one-stream step with a one-value observation t."""
    return dict(observation=[t], id=t, reward=reward, terminated=terminated,
                truncated=truncated, next_observation=[t + 1 if next_t is None else next_t])


@pytest.mark.parametrize("stack, n", [(1, 1), (1, 3), (4, 3), (4, 5)])
def test_samples_are_exactly_the_stored_n_step_transitions(stack, n):
    rng = np.random.default_rng(0)
    transitions = _episodes(rng, [6, 2, 9, 1, 4], (3, 2), stack)
    shape = (3, 2, stack) if stack > 1 else (3, 2)
    replay = ReplayBuffer(200, shape, np.uint8, seed=0, stack_size=stack, n_step=n, gamma=GAMMA)
    _fill(replay, transitions)
    expected = _expected(transitions, n)
    batch = replay.sample(2000)
    sampled_ids = set(batch["action"].tolist())
    assert sampled_ids == set(expected)  # every transition is reachable, nothing else is
    for row, transition_id in enumerate(batch["action"]):
        want = expected[transition_id]
        np.testing.assert_array_equal(batch["observation"][row], want["observation"])
        np.testing.assert_array_equal(batch["next_observation"][row], want["next_observation"])
        assert batch["reward"][row] == pytest.approx(want["reward"], abs=1e-5)
        assert batch["discount"][row] == pytest.approx(want["discount"])


def test_after_wrapping_around_it_samples_only_complete_transitions():
    rng = np.random.default_rng(1)
    transitions = _episodes(rng, [13, 7, 11, 9, 12], (2, 2), 4)
    replay = ReplayBuffer(20, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3, gamma=GAMMA)
    _fill(replay, transitions)
    expected = _expected(transitions, 3)
    batch = replay.sample(3000)
    for row, transition_id in enumerate(batch["action"]):
        np.testing.assert_array_equal(batch["observation"][row], expected[transition_id]["observation"])
        np.testing.assert_array_equal(
            batch["next_observation"][row], expected[transition_id]["next_observation"])
    newest = transitions[-1]["id"]
    assert min(batch["action"]) > newest - 20  # the oldest data is gone


def test_parallel_streams_never_mix_episodes():
    rng = np.random.default_rng(2)
    per_stream = [_episodes(rng, [5, 8, 3], (2, 2), 4) for _ in range(3)]
    for stream, transitions in enumerate(per_stream):
        for step in transitions:
            step["id"] += 1000 * stream
    replay = ReplayBuffer(300, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                          gamma=GAMMA, num_streams=3)
    for steps in zip(*per_stream):  # one row per stream, as a vector env's step adds them
        _add(replay, *steps)
    expected = {}
    for transitions in per_stream:
        expected.update(_expected(transitions, 3))
    batch = replay.sample(2000)
    assert set(batch["action"].tolist()) == set(expected)
    for row, transition_id in enumerate(batch["action"]):
        np.testing.assert_array_equal(
            batch["next_observation"][row], expected[transition_id]["next_observation"])
        assert batch["reward"][row] == pytest.approx(expected[transition_id]["reward"], abs=1e-5)


def test_an_episode_cut_by_a_restart_is_not_bootstrapped_across():
    replay = ReplayBuffer(50, (1,), np.float32, seed=0, n_step=2, gamma=GAMMA)
    for t in range(4):  # an episode still running when the process died
        _add(replay, _step(t, 1.0))
    replay.start_episode(0)
    for t in range(4):
        _add(replay, _step(100 + t, 1.0))
    sampled = set(replay.sample(1000)["action"].tolist())
    assert sampled == {0, 1, 100, 101}  # 2 and 3 have no 2-step future in their own episode


def test_rewards_are_stored_raw_and_clipped_as_transitions_are_built():
    transitions = _episodes(np.random.default_rng(3), [6, 5], (2,), 1)
    for step in transitions:
        step["reward"] *= 5
    clipped = [dict(step, reward=float(np.clip(step["reward"], -1, 1))) for step in transitions]
    for clip, expected in ((False, _expected(transitions, 2)), (True, _expected(clipped, 2))):
        replay = ReplayBuffer(50, (2,), np.uint8, seed=0, n_step=2, gamma=GAMMA,
                              clip_rewards=clip)
        _fill(replay, transitions)
        batch = replay.sample(500)
        assert (np.abs(batch["reward"]).max() > 1.5) != clip  # 1 + GAMMA bounds a clipped one
        for row, transition_id in enumerate(batch["action"]):
            assert batch["reward"][row] == pytest.approx(expected[transition_id]["reward"],
                                                         abs=1e-5)


def test_rows_read_back_as_appended_and_sample_the_same_transitions():
    """Bulk rows (how datasets are recorded and loaded) carry everything sampling needs."""
    rng = np.random.default_rng(4)
    transitions = _episodes(rng, [7, 3, 8, 5], (2, 2), 4)
    source = ReplayBuffer(100, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3, gamma=GAMMA)
    _fill(source, transitions)
    rows = source.rows(0, 0, source.added(0))
    copy = ReplayBuffer(100, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3, gamma=GAMMA)
    copy.extend(0, {field: values[:10] for field, values in rows.items()})
    copy.extend(0, {field: values[10:] for field, values in rows.items()})
    for field, values in copy.rows(0, 0, copy.added(0)).items():
        np.testing.assert_array_equal(values, rows[field], err_msg=field)
    assert rows["final"].sum() == 4 and rows["truncated"].sum() == 2
    first, second = source.sample(300), copy.sample(300)
    for field in ("observation", "action", "reward", "discount", "next_observation"):
        np.testing.assert_array_equal(first[field], second[field], err_msg=field)
    with pytest.raises(ValueError, match="do not fit stream 0"):
        copy.extend(0, {field: np.concatenate([values] * 3) for field, values in rows.items()})


def test_a_terminated_transition_needs_no_next_observation():
    """Dopamine's files store no final observation: a terminal step is still a transition."""
    replay = ReplayBuffer(20, (1,), np.float32, seed=0, n_step=1, gamma=GAMMA)
    rows = {"observation": np.arange(4, dtype=np.float32)[:, None],
            "action": np.arange(4, dtype=np.int32), "reward": np.ones(4, np.float32),
            "terminated": np.array([False, True, False, False]), "truncated": np.zeros(4, bool),
            "final": np.zeros(4, bool), "episode_step": np.array([0, 1, 0, 1], np.int32)}
    replay.extend(0, rows)
    batch = replay.sample(200)
    assert set(batch["action"].tolist()) == {0, 1, 2}  # 3 has no next step yet
    assert set(batch["discount"][batch["action"] == 1].tolist()) == {0.0}


def test_prioritized_sampling_follows_priorities():
    replay = ReplayBuffer(64, (1,), np.float32, seed=0, scheme="prioritized")
    for t in range(40):
        _add(replay, _step(t, 0.0, truncated=t == 39))
    priorities = np.arange(1, 41, dtype=np.float64)
    replay.update_priorities(np.arange(40), priorities)  # slot t holds transition t
    counts = np.zeros(40)
    draws = 0
    for _ in range(400):
        batch = replay.sample(50)
        counts += np.bincount(batch["action"], minlength=40)
        draws += 50
    expected = priorities / priorities.sum() * draws
    chi_square = np.sum((counts - expected) ** 2 / expected)
    assert chi_square < 73  # 39 degrees of freedom: p < 0.001 beyond 72.1
    assert counts[-1] > 20 * counts[0]
    np.testing.assert_allclose(
        batch["weights"], np.sqrt(batch["action"].min() + 1) / np.sqrt(batch["action"] + 1),
        rtol=1e-5)


def test_sum_tree_finds_prefix_sums():
    tree = SumTree(5)
    tree.set([0, 1, 2, 3, 4], [1.0, 0.0, 2.0, 3.0, 4.0])
    assert tree.total == 10.0
    np.testing.assert_array_equal(tree.find([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99]),
                                  [0, 0, 2, 2, 3, 3, 4, 4])
    with pytest.raises(ValueError, match="finite and >= 0"):
        tree.set([1], [-1.0])


def test_saved_buffer_resumes_with_the_same_data_and_samples(tmp_path):
    rng = np.random.default_rng(3)
    transitions = _episodes(rng, [7, 5, 9], (2, 2), 4)
    replay = ReplayBuffer(30, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                          scheme="prioritized")
    _fill(replay, transitions)
    replay.update_priorities([3, 4], [9.0, 0.5])
    path = str(tmp_path / "replay.npz")
    replay.save(path)
    restored = ReplayBuffer(30, (2, 2, 4), np.uint8, seed=123, stack_size=4, n_step=3,
                            scheme="prioritized")
    restored.load(path)
    expected, actual = replay.sample(16), restored.sample(16)
    for field, values in expected.items():
        np.testing.assert_array_equal(actual[field], values, err_msg=field)
    wrong = ReplayBuffer(31, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3)
    with pytest.raises(ValueError, match="shape"):
        wrong.load(path)


@pytest.mark.parametrize("scheme", ["uniform", "prioritized"])
def test_a_batch_drawn_with_its_own_generator_leaves_training_batches_unchanged(scheme):
    transitions = _episodes(np.random.default_rng(4), [7, 5, 9], (2, 2), 4)
    replays = [ReplayBuffer(30, (2, 2, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                            scheme=scheme) for _ in range(2)]
    for replay in replays:
        _fill(replay, transitions)
    probe = replays[1].sample(8, np.random.default_rng([0, 1000]))
    again = replays[1].sample(8, np.random.default_rng([0, 1000]))
    np.testing.assert_array_equal(probe["indices"], again["indices"])
    unprobed, probed = replays[0].sample(16), replays[1].sample(16)
    for field, values in unprobed.items():
        np.testing.assert_array_equal(probed[field], values, err_msg=field)


def test_a_million_atari_transitions_fit_in_7_5_gb():
    replay = ReplayBuffer(1_000_000, (84, 84, 4), np.uint8, seed=0, stack_size=4, n_step=3,
                          scheme="prioritized")  # zero pages: nothing is touched
    assert replay.nbytes / replay.capacity < 7_100
    assert replay.nbytes < 7.5e9


@pytest.mark.parametrize("kwargs, message", [
    (dict(scheme="greedy"), "unknown replay scheme 'greedy'"),
    (dict(n_step=0), "n_step=0"),
    (dict(capacity=2), "too small"),
])
def test_bad_settings_are_refused(kwargs, message):
    settings = dict(capacity=100, observation_shape=(2,), observation_dtype=np.float32, seed=0)
    with pytest.raises(ValueError, match=message):
        ReplayBuffer(**{**settings, **kwargs})
