"""Rain frames onto another grid (the district model grid, a QPF onto the radar grid).

Reprojection is rasterio's warp (GDAL) with pyproj CRSs: bilinear for rates, so a rate field
stays a rate field; cells the source does not cover are NaN.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS

from fangxun.rain.grids import Frame


def reproject_array(
    rate_mm_h: npt.NDArray[np.floating],
    *,
    src_crs: CRS,
    src_transform: Affine,
    crs: CRS,
    transform: Affine,
    shape: tuple[int, int],
) -> npt.NDArray[np.float32]:
    """One 2-D field (mm/h) from its grid onto (crs, transform, shape), bilinear; NaN outside."""
    from rasterio.crs import CRS as RioCRS
    from rasterio.warp import Resampling, reproject

    out = np.full(shape, np.nan, np.float32)
    reproject(
        source=np.asarray(rate_mm_h, np.float32),
        destination=out,
        src_transform=src_transform,
        src_crs=RioCRS.from_wkt(src_crs.to_wkt()),
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=RioCRS.from_wkt(crs.to_wkt()),
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return out


def reproject_frame(
    frame: Frame, *, crs: CRS, transform: Affine, shape: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """``frame``'s rate (mm/h) on the grid (crs, transform, shape)."""
    return reproject_array(
        frame.rate_mm_h,
        src_crs=frame.crs,
        src_transform=frame.transform,
        crs=crs,
        transform=transform,
        shape=shape,
    )
