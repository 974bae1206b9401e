"""Environment: the version table (``versions``) and the environment check (``check``).

Run ``python -m npu_compat.env --help``. Nothing here imports torch_npu: installed versions are
read with importlib.metadata, so the check runs on hosts without CANN.
"""
