"""Exporting pruned networks for serving: stripped SavedModels, TFLite, and what the files hold.
Each name is imported from its module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "contents": ("StoredTensor", "disk_bytes", "gzip_bytes", "saved_kernels", "saved_variables",
                 "stored_tensors", "summarize", "weight_sparsity"),
    "options": ("CHECK_OBSERVATIONS", "FORMATS", "PACKINGS", "QUANTIZATIONS",
                "check_export_options"),
    "packed": ("PackedDense", "PackedKernel", "UnpackedConv2D", "UnpackedDense", "pack",
               "serving_copy", "unpack"),
    "run_export": ("REPORT_FILE", "SAVED_MODEL", "SERVING_MODEL", "TFLITE_FILE",
                   "ExportCheckError", "export_network"),
    "saved_model": ("greedy_q_policy", "serving_function", "write_saved_model",
                    "write_serving_model"),
    "tflite": ("ACTION_AGREEMENT_BOUNDS", "convert_to_tflite", "run_tflite"),
})
