"""fangxun.demo."""
