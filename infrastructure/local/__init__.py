"""The local embedded runtime: moto for AWS, Chalice's dev server for the API, SQS pollers."""
