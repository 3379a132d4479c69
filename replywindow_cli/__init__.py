"""`replywindow`: the operators' command line, talking to a running stack's API (not shipped in
the Lambda zip)."""
