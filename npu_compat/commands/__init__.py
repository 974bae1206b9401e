"""The kit's commands (console scripts: sam3-demo, sam3-infer, sam3-video, coco-eval, compare-runs,
npu-compat-bench, verify-patches, extract-npu-kernels, train-sample-set), each a thin ``main(argv)``
over the library. The entry layer: it may import any part of the kit; no part of the kit imports it.
"""
