"""Run sam3's trainer in a process that torchrun (or any launcher setting ``RANK``/``WORLD_SIZE``) started.

``sam3/train/train.py`` is its own launcher: with ``--num-gpus N`` it spawns N processes and
sets ``RANK``/``WORLD_SIZE`` itself, so under torchrun every process would overwrite torchrun's
values with rank 0 of 1. This entry composes the same config the same way
(``initialize_config_module("sam3.train")``, sam3's OmegaConf resolvers) and runs the same
``instantiate(cfg.trainer).run()`` as ``train.py``'s per-process function, keeping the
launcher's ranks::

    torchrun --nproc-per-node 2 -m npu_compat.apply --device cpu -m npu_compat.training.launch \\
        -c configs/skimage_sample/tiny_ft.yaml

Started without a launcher it runs one process (rank 0 of 1). Extra ``key=value`` arguments
are Hydra overrides of the config.
"""
from __future__ import annotations

import argparse
import os
import socket
from typing import Any, Sequence

from npu_compat.errors import NpuCompatError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _single_process_env() -> None:
    if "RANK" in os.environ:
        return
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("MASTER_PORT", str(_free_port()))})


def compose_config(config: str, overrides: Sequence[str] = ()) -> Any:
    """The trainer config as ``train.py`` composes it (plus the kit's config folders if the shim is off)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import MissingConfigException
    from sam3.train.utils.train_utils import register_omegaconf_resolvers

    from npu_compat.sam3.train_rules import add_search_path

    GlobalHydra.instance().clear()
    initialize_config_module("sam3.train", version_base="1.2")
    add_search_path()  # no-op when the shim's rule already added the entries
    try:
        register_omegaconf_resolvers()
    except ValueError:
        pass  # already registered in this process
    try:
        return compose(config_name=config, overrides=list(overrides))
    except MissingConfigException as exc:
        raise NpuCompatError(f"config '{config}' not found in sam3.train, the kit's configs or $SAM3_TRAIN_CONFIG_PATH",
                             "pass -c configs/<folder>/<name>.yaml relative to one of them") from exc


def run(config: str, overrides: Sequence[str] = ()) -> None:
    """Compose ``config`` and run ``sam3.train.trainer.Trainer`` in this process, at the launcher's rank."""
    from hydra.utils import instantiate
    from iopath.common.file_io import g_pathmgr
    from omegaconf import OmegaConf

    _single_process_env()
    cfg = compose_config(config, overrides)
    if cfg.launcher.experiment_log_dir is None:
        cfg.launcher.experiment_log_dir = os.path.join(os.getcwd(), "sam3_logs", config)
    cfg.launcher.num_nodes = 1
    cfg.launcher.gpus_per_node = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    if int(os.environ["RANK"]) == 0:
        os.makedirs(cfg.launcher.experiment_log_dir, exist_ok=True)
        with g_pathmgr.open(os.path.join(cfg.launcher.experiment_log_dir, "config.yaml"), "w") as f:
            f.write(OmegaConf.to_yaml(cfg))
    trainer = instantiate(OmegaConf.create(OmegaConf.to_container(cfg, resolve=False)).trainer, _recursive_=False)
    trainer.run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m npu_compat.training.launch",
                                     description="Run sam3's trainer at the rank torchrun gave this process.")
    parser.add_argument("-c", "--config", required=True, help="config name, e.g. configs/skimage_sample/tiny_ft.yaml")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
    args = parser.parse_args(argv)
    try:
        run(args.config, args.overrides)
    except NpuCompatError as err:
        parser.exit(2, f"npu_compat.training.launch: error: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
