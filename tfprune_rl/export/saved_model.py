"""SavedModels of a policy for TF Serving and for TF-Agents.

Two SavedModels of the same network: `write_serving_model` writes `serving_default` alone,
which plain TensorFlow loads (what TF Serving and `tf.saved_model.load` deploy);
`write_saved_model` writes what TF-Agents' `PolicySaver` writes (signatures `action`,
`get_initial_state`, `get_train_step`, `get_metadata`, and policy_specs.pbtxt) plus the same
`serving_default`. The second cannot replace the first: its policy signatures hold
TensorFlow Probability types, which `tf.saved_model.load` refuses unless TFP was imported
first (and then only with Keras 2 selected by an environment variable). `serving_default` is
compiled with XLA. For a Q-network that signature maps observations
to `q_values` and `action`, plus what the network's head adds (`logits` and `probabilities` for
a categorical head; an IQN head's Q-values are the mean over its fixed grid of fractions, so
served actions are deterministic). The network
served is `tfprune_rl.export.packed.serving_copy`: stripped, with its sparse layers packed
where that pays.
"""

import tensorflow as tf
from tf_agents.policies import greedy_policy, policy_saver

from tfprune_rl.export.packed import load_time_kernels
from tfprune_rl.networks import QNetwork


def serving_function(q_network: QNetwork, action_spec):
    """observations -> {q_values, action, and the head's own outputs}, batch of any size."""
    observation_spec = q_network.input_tensor_spec
    action_minimum = int(action_spec.minimum)

    @tf.function(jit_compile=True, input_signature=[
        tf.TensorSpec((None, *observation_spec.shape), observation_spec.dtype, "observation")])
    def serve(observation):
        outputs, _ = q_network(observation)
        values = q_network.q_values(outputs)
        action = tf.argmax(values, axis=-1, output_type=tf.int64) + action_minimum
        return {"q_values": values, "action": action, **q_network.head.served(outputs)}

    return serve


def greedy_q_policy(q_network: QNetwork, time_step_spec, action_spec):
    """The greedy policy the network's agent evaluates with, on `q_network`."""
    return greedy_policy.GreedyPolicy(q_network.head.policy(time_step_spec, action_spec,
                                                            q_network))


def write_saved_model(policy, serve, path: str, train_step: int, metadata: dict) -> None:
    """Saves `policy` with PolicySaver and `serve` as `serving_default` to `path`.

    `metadata` (strings and numbers) is served by `get_metadata`; `train_step` by
    `get_train_step`.
    """
    saver = policy_saver.PolicySaver(
        policy, train_step=tf.Variable(train_step, dtype=tf.int64, name="train_step"),
        metadata={key: metadata_variable(key, value) for key, value in metadata.items()})
    saver.register_concrete_function("serve", serve)
    # PolicySaver has no way to add a signature but its own dict, which `signatures` returns.
    saver.signatures["serving_default"] = serve.get_concrete_function()
    saver.save(path)


def write_serving_model(network, serve, path: str) -> None:
    """Saves `serve` (a function of `network`) as `serving_default`, with nothing else: no
    TF-Agents or TFP type, so that plain TensorFlow loads it."""
    module = tf.Module()
    module.weights = list(network.variables)
    module.load_time_kernels = load_time_kernels(network)
    tf.saved_model.save(module, path, signatures={"serving_default": serve.get_concrete_function()})


def metadata_variable(name: str, value) -> tf.Variable:
    dtype = {str: tf.string, bool: tf.bool, int: tf.int64, float: tf.float64}[type(value)]
    return tf.Variable(value, dtype=dtype, trainable=False, name=name)
