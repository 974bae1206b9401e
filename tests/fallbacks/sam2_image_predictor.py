"""SAM2's image predictor (PyPI sam2==1.1.0, random weights) built and run where the shim sends "cuda";
its transforms are scripted with torch.jit.script, through the wrapped F.interpolate."""
import warnings, torch, numpy as np
warnings.simplefilter("ignore")
from sam2.build_sam import build_sam2
from sam2.sam2_image_predictor import SAM2ImagePredictor
model = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cuda")
pred = SAM2ImagePredictor(model)
pred.set_image(np.random.RandomState(0).randint(0, 255, (64, 80, 3), dtype=np.uint8))
masks, scores, _ = pred.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]))
print("SAM2 ok", tuple(masks.shape), tuple(scores.shape), next(model.parameters()).device)
