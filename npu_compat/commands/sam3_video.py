"""SAM3 video segmentation and tracking on any device: mp4 or frame folder in, overlay mp4 and per-frame JSON out.

    python tools/sam3_video.py clip.mp4 --text person --out out/
    python tools/sam3_video.py frames/ --text car --point 3:120,80 --box 0.3,0.4,0.2,0.3 --device npu --checkpoint sam3.pt

The shim is applied for --device (default: best available), so upstream's CUDA-only video predictor
runs on npu, cuda, xpu, mps or cpu. Writes <out>/overlay.mp4 (one frame per input frame) and
<out>/frames.json (per frame: object ids, scores, boxes xywh in pixels, RLE masks; schema in
npu_compat/workloads/video_run.py). Without --checkpoint the weights are RANDOM (a loud notice says so)
and nothing is downloaded. --model tiny is the small test model, for smoke runs. A --box is
cx,cy,w,h as fractions of the frame (as in every tool of the kit); a --point is in pixels.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path



PROG = "sam3-video"


def build_parser() -> argparse.ArgumentParser:
    from npu_compat.cli_options import add_shim_arguments
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import PARTIAL_FLAG
    from npu_compat.workloads.cli_parser import OneLineParser

    p = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", help="an mp4 (or .mov/.avi/.mkv/.webm) file, or a folder of frames 0.jpg, 1.jpg, ...")
    p.add_argument("--text", type=inputs.prompt_text, help="text prompt (e.g. 'person'), applied on --text-frame")
    p.add_argument("--text-frame", type=inputs.non_negative_int, default=0, help="frame of the text/box prompt (default 0)")
    p.add_argument("--box", action="append", default=[], metavar="CX,CY,W,H",
                   help=inputs.BOX_HELP + ", on --text-frame (repeatable)")
    p.add_argument("--point", action="append", default=[], metavar="FRAME:X,Y[:LABEL[:OBJ_ID]]",
                   help="point prompt in pixels on a frame; label 1 = positive, 0 = negative (repeatable)")
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--version", choices=["sam3", "sam3.1"], default=None,
                   help="video model: sam3, or sam3.1 (multiplex; needs sam3@96914d2); default sam3.1 where sam3 has it")
    p.add_argument("--checkpoint", help="path to sam3.pt (default: RANDOM weights, no download)")
    p.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    p.add_argument("--seed", type=inputs.seed, default=0, help="seed of the tiny model")
    p.add_argument("--video-backend", choices=["auto", "cv2", "decord"], default="auto", help="mp4 decoder for the overlay")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    add_shim_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from npu_compat.workloads.cli_parser import fail, quiet_upstream_warnings

    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    import npu_compat
    from npu_compat.cli_options import shim_options
    from npu_compat.errors import NpuCompatError
    from npu_compat.sam3.video_io import check_video_path
    from npu_compat.workloads.video_run import VideoJob, parse_box, parse_point, run_video_job
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import check_path

    try:
        job = VideoJob(video=args.video, out_dir=args.out, text=args.text, text_frame=args.text_frame,
                       boxes=tuple(parse_box(b) for b in args.box), points=tuple(parse_point(p) for p in args.point),
                       model=args.model, checkpoint=args.checkpoint, seed=args.seed, video_backend=args.video_backend,
                       allow_partial_checkpoint=args.allow_partial_checkpoint, version=args.version)
        check_video_path(args.video)  # the paths first: nothing is applied or built for a bad one
        inputs.check_output_dir(args.out, "--out")
        if args.checkpoint:
            check_path(args.checkpoint)
        session = npu_compat.apply(options=shim_options(args))
        result = run_video_job(job)
    except NpuCompatError as err:
        return fail(PROG, err)
    counts = [len(f["objects"]) for f in result["frames"]]
    print(f"device {session.target.device()}: {result['num_frames']} frames, objects per frame {counts}")
    print(f"timings (s): {json.dumps(result['timings_s'])}")
    print(f"wrote {result['overlay']} and {Path(args.out) / 'frames.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
