import os
import subprocess
import sys


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)


def test_import_selects_keras_2_before_tensorflow():
    result = _python(
        "import tfprune_rl, tensorflow as tf, tf_keras\n"
        "print(tf.keras.layers.Dense is tf_keras.layers.Dense)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_import_after_keras_3_was_bound_fails_loudly():
    result = _python("import tensorflow as tf\ntf.keras.layers.Dense\nimport tfprune_rl")
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "import tfprune_rl before tensorflow" in result.stderr


def test_tensorflow_imported_first_is_fine_while_tf_keras_is_unused():
    result = _python(
        "import tensorflow as tf\nimport tfprune_rl, tf_keras\n"
        "print(tf.keras.layers.Dense is tf_keras.layers.Dense)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
