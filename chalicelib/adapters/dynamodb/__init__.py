"""DynamoDB adapters: one module per aggregate, all on the single table of resources.yaml."""
