"""The `chartcoder` command line: a thin layer over `nlp` (the engine), `flows` (the Prefect flow)
and the services (the S3 bridge and the local stack). One module per command group;
`cli.commands.main` is the `chartcoder` entry point."""
