"""Files copied into the directory ``tagguard checkov-dir`` prints (Checkov custom checks)."""
