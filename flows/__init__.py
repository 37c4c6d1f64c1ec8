"""chartcoder's orchestration: the command line and (later) the Prefect flows."""
