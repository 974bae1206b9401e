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

import os
import shutil
import socket
from typing import Any, Sequence

from npu_compat.errors import NpuCompatError
from npu_compat.workloads.cli_parser import OneLineParser, fail, quiet_upstream_warnings

PROG = "python -m npu_compat.training.launch"
DATA_KEYS = ("ann_file", "img_folder", "gt_path")
"""Config keys that name training data; each must exist before the trainer (and its log folder) is made."""


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
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException
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
    except (HydraException, OmegaConfBaseException) as exc:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NpuCompatError(f"the overrides {' '.join(overrides)!r} do not fit config '{config}' ({what})",
                             "give Hydra overrides as key=value for keys of the config, e.g. "
                             "trainer.max_epochs=1") from None


def missing_data(cfg: Any) -> list[str]:
    """Paths under ``DATA_KEYS`` in the resolved trainer config that do not exist."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        tree = OmegaConf.to_container(cfg.trainer, resolve=True)
    except OmegaConfBaseException as exc:
        raise NpuCompatError(f"the config does not resolve ({str(exc).splitlines()[0]})",
                             "set the environment variables it reads (e.g. SAM3_TRAIN_DATA) or fix the overrides") from None
    found: list[str] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if key in DATA_KEYS and isinstance(value, str) and not os.path.exists(value):
                found.append(value)
            walk(value)

    walk(tree)
    return sorted(set(found))


def run(config: str, overrides: Sequence[str] = ()) -> None:
    """Compose ``config`` and run ``sam3.train.trainer.Trainer`` in this process, at the launcher's rank."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from iopath.common.file_io import g_pathmgr
    from omegaconf import OmegaConf

    _single_process_env()
    cfg = compose_config(config, overrides)
    missing = missing_data(cfg)
    if missing:
        raise NpuCompatError(f"training data {missing[0]} does not exist ({len(missing)} data path(s) missing)",
                             "write the sample set with train-sample-set --out DIR and set SAM3_TRAIN_DATA=DIR, "
                             "or point the config's paths at your data")
    if cfg.launcher.experiment_log_dir is None:
        cfg.launcher.experiment_log_dir = os.path.join(os.getcwd(), "sam3_logs", config)
    cfg.launcher.num_nodes = 1
    cfg.launcher.gpus_per_node = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    log_dir = cfg.launcher.experiment_log_dir
    created = not os.path.exists(log_dir)
    if int(os.environ["RANK"]) == 0:
        os.makedirs(log_dir, exist_ok=True)
        with g_pathmgr.open(os.path.join(log_dir, "config.yaml"), "w") as f:
            f.write(OmegaConf.to_yaml(cfg))
    try:
        trainer = instantiate(OmegaConf.create(OmegaConf.to_container(cfg, resolve=False)).trainer, _recursive_=False)
    except InstantiationException as exc:
        if created:  # nothing ran: leave no log folder behind
            shutil.rmtree(log_dir, ignore_errors=True)
        inner = str(exc).replace("\\n", " ").split("\n")
        raise NpuCompatError(f"the trainer could not be built ({' '.join(' '.join(inner).split())[:300]})",
                             "check the config's paths and values") from None
    trainer.run()


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Run sam3's trainer at the rank torchrun gave this process.")
    parser.add_argument("-c", "--config", required=True, help="config name, e.g. configs/skimage_sample/tiny_ft.yaml")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    try:
        run(args.config, args.overrides)
    except NpuCompatError as err:
        return fail(PROG, err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
