"""fangxun.db."""
