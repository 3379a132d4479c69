"""One module per platform: verify its signatures, parse its payloads into the normalised
event model (chalicelib/domain/events.py). Pure: no I/O."""
