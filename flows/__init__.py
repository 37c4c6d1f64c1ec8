"""chartcoder's Prefect flow: `code-charts` codes a batch of charts on an ephemeral Ray cluster.

- `code_charts.py`: the flow, read top to bottom like the pipeline; `options.py`: its settings,
  one typed model (`RunOptions`) beside the `source` and `destination` parameters;
- its stages, one job each: `batch.py` (charts found, shards planned, earlier results read),
  `coding.py` (coders started on Ray, shards scheduled, results merged), `delivery.py` (outputs,
  manifest, report, notification), `location_lock.py` (one run per prefix);
- what they use: `sources.py` (chart references and reading), `storage.py` (the destination),
  `ray_cluster.py`, `actors.py` (the coders), `outputs.py` (output files), `artifacts_report.py`
  (the Prefect UI report), `notify.py`.

Still here until they move to packages of their own (issue 12): `bridge.py` (S3 notifications
-> Prefect events), `stack.py` and `demo.py` (the local event-driven stack, `make run`) and
`show.py` (the demo's view of results). The command line is `cli/`.
"""
