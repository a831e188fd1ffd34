import os
import subprocess
import sys

import pytest


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("imports", [
    "import tfprune_rl\nimport tensorflow as tf",
    "import tensorflow as tf\nimport tfprune_rl",  # tf.keras not resolved yet: still fine
])
def test_tf_keras_is_keras_2(imports):
    result = _python(f"{imports}\nimport tf_keras\nprint(tf.keras.layers.Dense is tf_keras.layers.Dense)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_import_after_keras_3_was_bound_fails_loudly():
    result = _python("import tensorflow as tf\ntf.keras.layers.Dense\nimport tfprune_rl")
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "import tfprune_rl before tensorflow" in result.stderr
