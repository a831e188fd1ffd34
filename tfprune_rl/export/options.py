"""What an export can be asked for, checked before TensorFlow is imported."""

FORMATS = ("saved_model", "tflite")
PACKINGS = ("auto", "packed", "dense")
QUANTIZATIONS = ("none", "dynamic", "int8")
CHECK_OBSERVATIONS = 256  # observations an export is checked on (and int8 calibrated on)


def check_export_options(formats, quantize: str, packing: str = "auto") -> None:
    if packing not in PACKINGS:
        raise ValueError(f"unsupported packing {packing!r}; choose one of {', '.join(PACKINGS)}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unsupported format {','.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unsupported quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if quantize != "none" and "tflite" not in formats:
        raise ValueError(f"quantization {quantize!r} applies to the tflite format only; "
                         "add tflite to the formats")
