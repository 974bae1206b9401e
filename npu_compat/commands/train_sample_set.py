"""Write the tiny training set (scikit-image sample photos + COCO annotations) in the Roboflow layout.

    train-sample-set --out /tmp/sam3_data
    SAM3_TRAIN_DATA=/tmp/sam3_data python -m npu_compat.apply -m sam3.train.train \
        -c configs/skimage_sample/tiny_ft.yaml --use-cluster 0 --num-gpus 1
"""
from __future__ import annotations

import argparse
import sys

from npu_compat.errors import NpuCompatError
from npu_compat.training.sample_set import write_sample_set
from npu_compat.workloads.cli_parser import OneLineParser, fail
from npu_compat.workloads.inputs import check_output_dir

PROG = "train-sample-set"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Write scikit-image's sample photos and their committed COCO "
                           "annotations as <out>/skimage-sample/{train,test}/ (upstream's Roboflow layout).")
    parser.add_argument("--out", required=True, help="dataset root (SAM3_TRAIN_DATA for the training config)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_output_dir(args.out, "--out")
    except NpuCompatError as err:
        return fail(PROG, err)
    print(write_sample_set(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
