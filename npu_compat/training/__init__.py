"""Fine-tuning SAM3 with sam3's own trainer on any device: a tiny real training set from
scikit-image's sample photos, a config in upstream's Roboflow-100 layout, the tiny model's
training builder, a per-step loss log, a launcher for torchrun, and a run-comparison table.
Nothing here runs at import time.
"""
