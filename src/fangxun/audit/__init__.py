"""fangxun.audit."""
