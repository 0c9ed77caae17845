"""Background jobs (RQ). Job functions are plain module-level functions taking ids."""
