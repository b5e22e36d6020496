"""The domain jobs of Threads, one module per concern. Import them through ``threads.tasks``."""
