"""ReplyWindow's infrastructure: the resource declaration, packaging and the local runtime."""
