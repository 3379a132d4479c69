"""ReplyWindow's logic, packaged into every Lambda: domain, services, adapters, webhooks."""
