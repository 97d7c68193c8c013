"""fangxun.web."""
