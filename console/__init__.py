"""The operator's console: one web page, served by `convsync serve` under /admin/console (DESIGN §4)."""
