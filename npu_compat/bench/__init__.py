"""Benchmarks of the kit: the shim's own cost, SAM3 stages, prompts, postprocessing, video, op and sync counts,
and a side-by-side with Hugging Face's ``Sam3Model``. ``tools/bench.py`` is the one entry point."""
