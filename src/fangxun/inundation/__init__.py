"""fangxun.inundation."""
