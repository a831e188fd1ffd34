"""Exporting pruned networks for serving: stripped SavedModels, TFLite, and what the files hold."""

from tfprune_rl.export.contents import (
    StoredTensor, disk_bytes, gzip_bytes, saved_kernels, saved_variables, stored_tensors,
    summarize, weight_sparsity,
)
from tfprune_rl.export.packed import PACKINGS, PackedDense, PackedKernel, pack, serving_copy, unpack
from tfprune_rl.export.run_export import (
    CHECK_OBSERVATIONS, FORMATS, REPORT_FILE, SAVED_MODEL, TFLITE_FILE, ExportCheckError,
    check_export_options, export_network,
)
from tfprune_rl.export.saved_model import greedy_q_policy, serving_function, write_saved_model
from tfprune_rl.export.tflite import (
    ACTION_AGREEMENT_BOUNDS, QUANTIZATIONS, convert_to_tflite, run_tflite,
)

__all__ = [
    "ACTION_AGREEMENT_BOUNDS", "CHECK_OBSERVATIONS", "ExportCheckError", "FORMATS", "PACKINGS",
    "PackedDense", "PackedKernel", "QUANTIZATIONS", "REPORT_FILE", "SAVED_MODEL", "StoredTensor",
    "TFLITE_FILE", "check_export_options", "convert_to_tflite", "disk_bytes", "export_network",
    "greedy_q_policy", "gzip_bytes", "pack", "run_tflite", "saved_kernels", "saved_variables",
    "serving_copy", "serving_function", "stored_tensors", "summarize", "unpack",
    "weight_sparsity", "write_saved_model",
]
