"""fangxun.warnings."""
