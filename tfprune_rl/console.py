"""What a command prints before its own first line: nothing but real errors.

Importing TensorFlow and TF-Agents writes about ten lines that tell a user nothing: the C++
runtime's start-up lines (absl's pre-initialization notice, oneDNN, the CUDA stub, the CPU
feature guard) and a `failed call to cuInit` error on a machine without a GPU (gym's
"unmaintained" banner came from gym-notices, which is no longer installed). `quiet_startup`
captures file descriptors 1 and 2 while the imports run and the devices are found, drops
exactly those lines, and writes every other line back, so a real error or warning is still
seen. `without_noise` does the same around other code that
prints from C (MuJoCo's deprecation notice about gymnasium's own model files).
"""

import contextlib
import os
import re
import sys
import tempfile
import warnings

NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|^[IWE]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard|cuda_platform|cuda_executor"
    r"|cuda_dnn|cuda_fft|cuda_blas|service|device_compiler)\.(cc|h):\d+\]"
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler"
    r"|^WARNING: compiler attribute 'settotalmass' is deprecated"
    r"|^\s*$")


# Python warnings that say nothing to a user either, for the whole process.
QUIET_WARNINGS = (
    dict(category=SyntaxWarning),  # from TF-Agents' autograph-converted code
    dict(message="Encoding a StructuredValue"),  # PolicySaver's specs
    dict(message=".*tf.lite.Interpreter is deprecated"),
)


@contextlib.contextmanager
def quiet_startup():
    """Runs the block (the imports of an entry point) with TensorFlow's start-up
    noise removed from stdout and stderr; initializes TensorFlow's devices at the end, inside
    the capture, since that is where a GPU-less machine reports its failed cuInit."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's own INFO lines, once it logs
    for kwargs in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", **kwargs)
    with without_noise():
        yield
        if "tensorflow" in sys.modules:
            sys.modules["tensorflow"].config.list_physical_devices()


@contextlib.contextmanager
def without_noise():
    """Captures file descriptors 1 and 2 for the block; then writes back every line that is
    not NOISE. The descriptors, not sys.stdout and sys.stderr: C code writes to them whatever
    Python's streams are (a caller's StringIO, say)."""
    saved = {}
    captures = {}
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    for fd in (1, 2):
        captures[fd] = tempfile.TemporaryFile(mode="w+b")
        saved[fd] = os.dup(fd)
        os.dup2(captures[fd].fileno(), fd)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd, capture in captures.items():
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines(True)
                    if not NOISE.search(line)]
            capture.close()
            if kept:
                os.write(fd, "".join(kept).encode())


def device_name() -> str:
    """The device training runs on: the first GPU's name, or CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU {details.get('device_name', gpus[0].name)}" + (
        f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
