"""Write the tiny training set (scikit-image sample photos + COCO annotations) in the Roboflow layout.

    python tools/train_sample_set.py --out /tmp/sam3_data
    SAM3_TRAIN_DATA=/tmp/sam3_data python -m npu_compat.apply -m sam3.train.train \
        -c configs/skimage_sample/tiny_ft.yaml --use-cluster 0 --num-gpus 1
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write scikit-image's sample photos and their committed COCO "
                                     "annotations as <out>/skimage-sample/{train,test}/ (upstream's Roboflow layout).")
    parser.add_argument("--out", required=True, help="dataset root (SAM3_TRAIN_DATA for the training config)")
    args = parser.parse_args(argv)
    from npu_compat.training.sample_set import write_sample_set

    print(write_sample_set(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
