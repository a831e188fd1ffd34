"""Watch an exported model play: tfprune-play EXPORT [--env] [--episodes] [--seed] [--video].

EXPORT is a run's export directory or a SavedModel (packed or dense, Q-network or actor). The
model acts through its `serving_default` signature, as a deployment would; each episode's return
is printed. Episodes are seeded as the run's evaluations, so an export of a run evaluated with
--eval_epsilon=0 replays that run's final evaluation episode by episode.
"""

import os

from absl import flags

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import fail, file_errors, run_app
from tfprune_rl.envs.ids import check_env_id

PROGRAM = "tfprune-play"
FLAGS = flags.FLAGS
flags.DEFINE_string("env", None, "Env id to play in; default: the run's (the export's "
                    "metadata).")
flags.DEFINE_integer("episodes", 10, "Episodes to play (the trainers' default evaluation: 10).",
                     lower_bound=1)
flags.DEFINE_integer("seed", None, "Seed of the first episode; default: the run's evaluation "
                     "seed (its --seed + 10000).")
flags.DEFINE_string("video", None, "Write the first episode to this MP4 file.")


def main(argv):
    if len(argv) != 2:
        fail(PROGRAM, f"expected one EXPORT (a run's export directory or a SavedModel), got "
                      f"{argv[1:]}")
    path = argv[1]
    if not os.path.isdir(path):
        fail(PROGRAM, f"{path} is not a directory; expected a run's export directory or a "
                      "SavedModel")
    if FLAGS.video is not None and not FLAGS.video.endswith(".mp4"):
        fail(PROGRAM, f"--video={FLAGS.video} must name an .mp4 file")
    if FLAGS.env is not None:
        try:
            check_env_id(FLAGS.env)
        except ValueError as error:
            fail(PROGRAM, str(error))
    with quiet_startup():
        from tfprune_rl import video
        from tfprune_rl.export.play import play
    frames = [] if FLAGS.video else None
    try:
        returns, metadata = play(path, FLAGS.env, FLAGS.episodes, FLAGS.seed, frames)
    except ValueError as error:
        fail(PROGRAM, str(error))
    except file_errors() as error:
        fail(PROGRAM, f"cannot load {path}: {type(error).__name__}: {error}")
    for episode, value in enumerate(returns):
        print(f"episode {episode}: return {value:g}")
    print(f"mean return {sum(returns) / len(returns):g} over {len(returns)} episodes "
          f"({metadata['agent']} on {FLAGS.env or metadata['env_id']})")
    if frames:
        video.write_mp4(FLAGS.video, [video.rgb_frame(frame) for frame in frames])
        print(f"video of episode 0: {FLAGS.video} ({len(frames)} frames)")


def run():
    run_app(PROGRAM, main, ("env", "episodes", "seed", "video"))


if __name__ == "__main__":
    run()
