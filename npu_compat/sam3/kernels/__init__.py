"""Triton-free, device-agnostic stand-ins for the triton kernels in upstream sam3 0.1.4.

Each module here has the same public names and signatures as the upstream module it replaces,
so it can be installed in ``sys.modules`` under the upstream name before sam3 imports it.
Nothing is installed at import time; :data:`UPSTREAM_REPLACEMENTS` only names the pairs.
No module in this package imports triton or sam3.
"""

UPSTREAM_REPLACEMENTS: dict[str, str] = {
    "sam3.model.edt": "npu_compat.sam3.kernels.edt",
    "sam3.perflib.connected_components": "npu_compat.sam3.kernels.connected_components",
    "sam3.perflib.nms": "npu_compat.sam3.kernels.mask_nms",
    "sam3.train.loss.sigmoid_focal_loss": "npu_compat.sam3.kernels.sigmoid_focal_loss",
}
"""Upstream module name -> name of the module here that replaces it."""
