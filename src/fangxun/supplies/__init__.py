"""fangxun.supplies."""
