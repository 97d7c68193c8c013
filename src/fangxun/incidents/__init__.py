"""fangxun.incidents."""
