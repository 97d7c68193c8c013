"""fangxun.briefings."""
