"""Train the deep spike-inference model shipped in ``neuralscope/imaging/spikes/data``.

Stage ``pretrain``: simulated recordings only -> ``deep_spikes_sim_v1`` (also the
starting point of every leave-one-dataset-out fold in ``benchmarks/imaging_spikes.py``).
Stage ``ship``: fine-tune on all real ground truth (the CASCADE subset in
``../shared/data/calcium/cascade/Ground_truth`` and the Spikefinder training
sets), noise-augmented and mixed with simulations -> ``deep_spikes_v1``.
The real data are read, never copied: only the learned weights (~3k floats) ship.

Run (one thread, a few minutes per stage)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/train_spike_inference.py --stage all
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_OUT = REPO / "src" / "neuralscope" / "imaging" / "spikes" / "data"
GROUND_TRUTH = REPO.parent / "shared" / "data" / "calcium"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["pretrain", "ship", "all"], default="all")
    parser.add_argument("--data", type=Path, default=GROUND_TRUTH, help="folder with cascade/ and spikefinder/")
    parser.add_argument("--out", type=Path, default=DATA_OUT)
    parser.add_argument("--pretrain-steps", type=int, default=3000)
    parser.add_argument("--finetune-steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from neuralscope.imaging.spikes.deep import DeepSpikeInference
    from neuralscope.imaging.spikes.groundtruth import cascade_datasets, load_cascade_dataset, load_spikefinder
    from neuralscope.imaging.spikes.training import finetune, pretrain

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    sim_path = args.out / "deep_spikes_sim_v1"
    if args.stage in ("pretrain", "all"):
        log(f"pretraining on simulations ({args.pretrain_steps} steps)")
        model = pretrain(n_steps=args.pretrain_steps, random_state=args.seed, log=log)
        model.save(sim_path, "deep_spikes_sim_v1 (simulated ground truth only)",
                   notes=f"scripts/train_spike_inference.py --stage pretrain, {args.pretrain_steps} steps, "
                         f"seed {args.seed}")
        log(f"wrote {sim_path}.npz")
    if args.stage in ("ship", "all"):
        init = DeepSpikeInference.load(sim_path)
        real = []
        for folder in cascade_datasets(args.data / "cascade" / "Ground_truth"):
            real += load_cascade_dataset(folder)
        for k in (4, 5, 6):
            real += load_spikefinder(args.data / "spikefinder", k)
        log(f"fine-tuning on {len(real)} real recordings + simulations ({args.finetune_steps} steps)")
        model = finetune(init, real, n_steps=args.finetune_steps, random_state=args.seed, log=log)
        sets = sorted({tr.name.split("/")[0] for tr in real})
        model.save(args.out / "deep_spikes_v1", "deep_spikes_v1 (simulations + CASCADE + Spikefinder ground truth)",
                   notes=f"fine-tuned from deep_spikes_sim_v1 on {', '.join(sets)}; {args.finetune_steps} steps, "
                         f"seed {args.seed}")
        log(f"wrote {args.out / 'deep_spikes_v1'}.npz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
