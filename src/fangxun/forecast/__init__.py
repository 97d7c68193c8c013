"""fangxun.forecast."""
