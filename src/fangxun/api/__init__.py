"""fangxun.api."""
