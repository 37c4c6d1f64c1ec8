"""The S3 -> Prefect event bridge: S3 notifications read from SQS become one event per batch.

The self-hosted Prefect server has no webhooks and prefect-aws has no S3 sensor, so this small
service reads the S3 event notifications of the landing bucket from an SQS queue (the same code
for AWS and for moto's server), groups the objects into batches and emits one
`chartcoder.batch.ready` event per batch with a plain `POST {PREFECT_API_URL}/events`.

- A batch is the objects under one "folder" below the landing prefix (`incoming/` + key
  `incoming/2026-11-26/a.txt` -> batch `incoming/2026-11-26/`; a key directly under the landing
  prefix belongs to the root batch `incoming/`). It is ready when the producer writes the marker
  object (`_READY`) or after a quiet period with no new object under that prefix.
- The event id is a uuid5 of (bucket, prefix, generation): a replayed notification never makes a
  second run. Objects that land after their batch was sealed form the next generation.
- A message is deleted from the queue only once every batch it feeds was accepted by the API and
  the state file says so (save intent -> emit -> save generation -> delete); meanwhile its
  visibility is extended. The intent (the batch's members) makes a bridge restarted after a crash
  announce exactly the same batch again rather than fold later objects into it.

Modules, one job each:

- `config`: `BridgeConfig` (validated settings) and `S3Url`;
- `notifications`: `parse_message`, an SQS message -> the `S3Object`s it announces;
- `batching`: `Batcher`, pure batching decisions (no I/O, injected clock) -> `Batch`;
- `state`: `BridgeState`, the durable state file, and the state folder's lock;
- `emitter`: `batch_event` and `PrefectEmitter` (the POST);
- `sqs`: `NotificationQueue`, the SQS calls (receive, keep invisible, delete, dead-letter);
- `service`: `Bridge`, the service loop;
- `command`: `chartcoder bridge` / `python -m bridge`.

docs/bridge.md describes the crash windows that remain.
"""
