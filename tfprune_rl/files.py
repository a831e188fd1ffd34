"""Files that are either whole or absent: a crash or an error mid-write never leaves a
half-written checkpoint, log, dataset shard or report."""

import contextlib
import os


def temporary_path(path: str) -> str:
    """Where a file or directory is written before it is renamed to `path`: the run
    directory's cleanup (`lifecycle.run_dir.remove_leftovers`) finds a killed writer's by it."""
    return f"{path}.tmp-{os.getpid()}"


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w"):
    """Opens a temporary file next to `path`; once the block ends without an error, it replaces
    `path` in one rename. On an error, `path` is left as it was and the temporary file goes."""
    tmp_path = temporary_path(path)
    f = open(tmp_path, mode)  # a directory that is not there fails here, with nothing to remove
    try:
        with f:
            yield f
    except OSError as error:  # a full disk, a size limit: say which file
        os.remove(tmp_path)
        if error.filename:
            raise
        raise OSError(error.errno, error.strerror, path) from error
    except BaseException:
        os.remove(tmp_path)
        raise
    os.replace(tmp_path, path)
