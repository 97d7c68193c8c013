"""fangxun.monitoring."""
