"""The AWS bill per million inbound messages, from a replayed day of traffic (`python -m
bench.cost`).

Four parts, each readable and testable alone:
- `replay.py` — the day: signed webhooks through a local stack, then what it used, counted;
- `recorder.py` — the botocore hook that counts every AWS request while the day runs;
- `meter.py` — DynamoDB capacity units of each request, by DynamoDB's documented rules
  (each written item is read before and after, outside the count: the larger size, failed
  conditions, GSI1's delete and put when a key changes);
- `prices.py` — the dated price table and `price()`: counts times prices give dollars per
  million inbound customer messages, split by service, at three daily volumes; at volume,
  executions stop growing at one per bucket and emails at what the digest rule lets through
  per agent. Beside it: one Step Functions execution per turn (the naive design) on the same
  traffic.
"""
