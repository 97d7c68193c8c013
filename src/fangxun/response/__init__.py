"""fangxun.response."""
