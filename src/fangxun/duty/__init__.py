"""fangxun.duty."""
