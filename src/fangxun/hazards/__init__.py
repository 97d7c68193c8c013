"""fangxun.hazards."""
