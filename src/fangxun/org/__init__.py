"""fangxun.org."""
