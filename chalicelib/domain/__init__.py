"""Pure domain: conversations, turns, SLA policies, triage, on-call. No AWS, no I/O."""
