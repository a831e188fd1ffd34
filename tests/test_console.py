"""A command's output opens with its own line: start-up noise is dropped, nothing else is."""

import subprocess
import sys

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796121665.225215    4943 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results",
    "I0000 00:00:1796121665.225622    4943 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796121665.273881    4943 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796121667.946754    4943 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "WARNING: compiler attribute 'settotalmass' is deprecated and will be removed in a future "
    "release: scale the masses and densities in the model",
    "",
]
REAL = ["E0000 00:00:1796121667.946754    4943 gpu_kernel.cc:12] a real error",
        "Traceback (most recent call last): a real traceback"]


def test_start_up_noise_is_dropped_and_every_other_line_kept():
    lines = NOISE[:4] + REAL[:1] + NOISE[4:] + REAL[1:]
    code = "\n".join([
        "import os, sys",
        "from tfprune_rl.console import quiet_startup",
        "print('before', flush=True)",
        "with quiet_startup():",
        *[f"    os.write(2, {(line + chr(10)).encode()!r})" for line in lines[:5]],
        *[f"    print({line!r}, file=sys.stderr)" for line in lines[5:]],
        "    print('inside')",
        "print('after')",
    ])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["before", "inside", "after"]
    assert result.stderr.splitlines() == REAL
