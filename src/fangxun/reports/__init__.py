"""fangxun.reports."""
