"""The event-driven stack on this machine, on loopback: `chartcoder up`, `down`, `status`.

    S3 (moto) --notification--> SQS --> bridge --chartcoder.batch.ready--> Prefect server
        --deployment trigger--> flow run --> process worker --> code-charts (Ray) --> results in S3
        --flow-run state event--> automations --> webhook block --> notifications.jsonl

Each part (server, S3, webhook, worker, bridge) is a detached process (its own session) with a
pid file and a log file in the stack folder. `up` starts the first three, provisions the buckets,
queues, notification and Prefect objects, starts the last two, waits until every part is healthy
and prints one JSON line; `down` stops each part with its whole process tree.

Modules, one job each:

- `settings`: `StackSettings` (ports, folders, locations, timings) and the names the stack uses;
- `parts`: each part's command line and environment;
- `processes`: pid files, log files, process trees (start, check, stop);
- `clients`: boto3 and Prefect clients for the stack's services;
- `health`: when a part is healthy;
- `provisioning`: buckets, queue, notification, work pool, deployment, block, automations;
- `lifecycle`: `up`, `stop`, `status`;
- `webhook`: the notification receiver (`python -m stack.webhook`);
- `command`: `chartcoder up | down | status`;
- `demo`: `make run` (`python -m stack.demo`), and the helpers the event-chain test and
  bench/events.py share (upload a batch, find its run, read its results).
"""
